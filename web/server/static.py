"""Serving the canvas build (`web/canvas/dist`) at `/`, or a short page saying it is not built yet."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.server.files import confined

CANVAS_DIST = Path(__file__).resolve().parents[1] / "canvas" / "dist"
_NO_CACHE = {"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "0"}
_NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>diffloom</title></head>
<body><h1>diffloom</h1><p>The canvas is not built. Run <code>npm install &amp;&amp; npm run build</code> in
<code>web/canvas</code>, then reload. The HTTP API is up: try <a href="/api/object_info">/api/object_info</a>.</p>
</body></html>"""


def add_canvas_routes(app: web.Application, dist: Path = CANVAS_DIST) -> None:
    """`/` → index.html; other paths → files of the build (confined to it). Registered last: API routes win."""

    async def index(request: web.Request) -> web.StreamResponse:
        page = dist / "index.html"
        if not page.is_file():
            return web.Response(text=_NOT_BUILT, content_type="text/html", headers=_NO_CACHE)
        return web.FileResponse(page, headers={**_NO_CACHE, "Content-Type": "text/html"})

    async def asset(request: web.Request) -> web.StreamResponse:
        path = confined(dist, request.match_info["path"])
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    app.router.add_get("/", index)
    app.router.add_get("/{path:.+}", asset)
