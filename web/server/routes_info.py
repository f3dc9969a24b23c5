"""Read-only information routes: node definitions, system stats, features, models, extensions (spec §1.6, §1.9)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import platform
import sys
from pathlib import Path

from aiohttp import web

import diffloom
from runtime.devices import device_stats
from web.server.errors import BadRequest, expect, read_json_object
from web.server.files import confined, file_response
from web.server.state import state_of

routes = web.RouteTableDef()
internal_routes = web.RouteTableDef()

COMFYUI_VERSION = "0.8.0"  # the ComfyUI release whose API we speak
_HIDDEN_FOLDERS = ("configs", "custom_nodes")


@routes.get("/object_info")
async def object_info(request: web.Request) -> web.Response:
    registry = state_of(request).registry
    return web.json_response(await asyncio.to_thread(registry.object_info))


@routes.get("/object_info/{node_class}")
async def object_info_one(request: web.Request) -> web.Response:
    registry = state_of(request).registry
    return web.json_response(registry.object_info(request.match_info["node_class"]))


def _memory() -> tuple[int, int]:
    """(total, available) RAM in bytes from /proc/meminfo, else from sysconf."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        return int(fields["MemTotal"].split()[0]) * 1024, int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return total, total


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@routes.get("/system_stats")
async def system_stats(request: web.Request) -> web.Response:
    total, free = _memory()
    return web.json_response({
        "system": {"os": sys.platform, "ram_total": total, "ram_free": free, "comfyui_version": COMFYUI_VERSION,
                   "diffloom_version": diffloom.__version__, "required_frontend_version": "",
                   "installed_templates_version": None, "required_templates_version": None,
                   "python_version": sys.version, "pytorch_version": _package_version("torch"),
                   "embedded_python": False, "argv": sys.argv, "platform": platform.platform()},
        "devices": device_stats(total, free)})


@routes.get("/features")
async def features(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).feature_flags())


@routes.get("/embeddings")
async def embeddings(request: web.Request) -> web.Response:
    names = state_of(request).paths.get_filename_list("embeddings")
    return web.json_response([os.path.splitext(name)[0] for name in names])


@routes.get("/extensions")
async def extensions(request: web.Request) -> web.Response:
    from urllib.parse import quote

    urls = []
    for pack, directory in state_of(request).registry.web_directories.items():
        for script in sorted(Path(directory).rglob("*.js")):
            urls.append(f"/extensions/{quote(pack)}/{script.relative_to(directory).as_posix()}")
    return web.json_response(urls)


@routes.get("/extensions/{pack}/{path:.+}")
async def extension_file(request: web.Request) -> web.StreamResponse:
    directory = state_of(request).registry.web_directories.get(request.match_info["pack"])
    if directory is None:
        raise web.HTTPNotFound()
    path = confined(Path(directory), request.match_info["path"])
    if not path.is_file():
        raise web.HTTPNotFound()
    if path.suffix in (".js", ".mjs"):  # plugin front-end code is meant to run; everything else is inert
        return web.FileResponse(path, headers={"Content-Type": "text/javascript", "X-Content-Type-Options": "nosniff"})
    return file_response(path)


@routes.get("/models")
async def model_folders(request: web.Request) -> web.Response:
    return web.json_response(list(state_of(request).paths.folders))


@routes.get("/models/{folder}")
async def model_files(request: web.Request) -> web.Response:
    paths = state_of(request).paths
    folder = request.match_info["folder"]
    if folder not in paths.folders:
        raise web.HTTPNotFound(text=f"unknown model folder {folder!r}")
    return web.json_response(await asyncio.to_thread(paths.get_filename_list, folder))


@routes.get("/experiment/models")
async def experiment_models(request: web.Request) -> web.Response:
    folders = state_of(request).paths.folders
    return web.json_response([{"name": key, "folders": [str(p) for p in dirs]}
                              for key, (dirs, _) in folders.items() if key not in _HIDDEN_FOLDERS])


def _model_entries(dirs: list[Path], extensions: frozenset[str]) -> list[dict]:
    entries = []
    for index, root in enumerate(dirs):
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith(".") or os.path.splitext(name)[1].lower() not in extensions:
                    continue
                stat = os.stat(os.path.join(dirpath, name))
                entries.append({"name": os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"),
                                "pathIndex": index, "modified": stat.st_mtime, "created": stat.st_ctime,
                                "size": stat.st_size})
    return entries


@routes.get("/experiment/models/{folder}")
async def experiment_model_files(request: web.Request) -> web.Response:
    from runtime.paths import WEIGHT_EXTENSIONS

    folder = request.match_info["folder"]
    folders = state_of(request).paths.folders
    if folder not in folders:
        raise web.HTTPNotFound(text=f"unknown model folder {folder!r}")
    return web.json_response(await asyncio.to_thread(_model_entries, folders[folder][0], WEIGHT_EXTENSIONS))


@routes.get("/experiment/models/preview/{folder}/{path_index}/{filename:.*}")
async def experiment_model_preview(request: web.Request) -> web.Response:
    folders = state_of(request).paths.folders
    folder, filename = request.match_info["folder"], request.match_info["filename"]
    try:
        root = folders[folder][0][int(request.match_info["path_index"])]
    except (KeyError, IndexError, ValueError):
        raise web.HTTPNotFound()
    stem = os.path.splitext(filename)[0]
    for candidate in (f"{stem}{ext}" for ext in (".png", ".jpg", ".jpeg", ".webp", ".preview.png",
                                                  ".preview.jpg", ".preview.jpeg", ".preview.webp")):
        path = confined(root, candidate)
        if path.is_file():
            return web.Response(body=await asyncio.to_thread(_as_webp, path), content_type="image/webp")
    raise web.HTTPNotFound()


def _as_webp(path: Path) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.open(path).save(buffer, format="WEBP")
    return buffer.getvalue()


@internal_routes.get("/internal/folder_paths")
async def folder_paths(request: web.Request) -> web.Response:
    folders = state_of(request).paths.folders
    return web.json_response({key: [str(p) for p in dirs] for key, (dirs, _) in folders.items()})


@internal_routes.get("/internal/logs")
async def logs_text(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).logs.text())


@internal_routes.get("/internal/logs/raw")
async def logs_raw(request: web.Request) -> web.Response:
    size = os.get_terminal_size() if sys.stdout.isatty() else None
    return web.json_response({"entries": list(state_of(request).logs.entries),
                              "size": {"cols": size.columns, "rows": size.lines} if size else None})


@internal_routes.patch("/internal/logs/subscribe")
async def logs_subscribe(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    client_id = expect(body, "clientId", str)
    if client_id is None:
        raise BadRequest("Invalid value for 'clientId'", "'clientId' is required")
    subscribers = state_of(request).logs.subscribers
    if expect(body, "enabled", bool, default=False):
        subscribers.add(client_id)
    else:
        subscribers.discard(client_id)
    return web.Response()
