"""What custom node packs bring to the front end: example workflows, translations, subgraph blueprints (§1.11)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from aiohttp import web

from web.server.files import confined, file_response
from web.server.state import state_of

routes = web.RouteTableDef()

_EXAMPLE_FOLDERS = ("example_workflows", "example", "examples", "workflow", "workflows")
_LOCALE_SECTIONS = {"nodeDefs.json": "nodeDefs", "commands.json": "commands", "settings.json": "settings"}


def _packs(request: web.Request) -> list[Path]:
    """Custom node pack directories (none when custom nodes are disabled)."""
    state = state_of(request)
    if state.config.disable_all_custom_nodes:
        return []
    return [pack for root in state.paths.folder_dirs("custom_nodes") if root.is_dir()
            for pack in sorted(root.iterdir()) if pack.is_dir() and not pack.name.startswith((".", "__"))]


def _examples_dir(pack: Path) -> Path | None:
    return next((pack / name for name in _EXAMPLE_FOLDERS if (pack / name).is_dir()), None)


@routes.get("/workflow_templates")
async def workflow_templates(request: web.Request) -> web.Response:
    found = {}
    for pack in _packs(request):
        folder = _examples_dir(pack)
        if folder is not None:
            found[pack.name] = sorted(p.stem for p in folder.glob("*.json"))
    return web.json_response(found)


@routes.get("/workflow_templates/{pack}/{path:.+}")
async def workflow_template_file(request: web.Request) -> web.StreamResponse:
    pack = next((p for p in _packs(request) if p.name == request.match_info["pack"]), None)
    folder = _examples_dir(pack) if pack is not None else None
    if folder is None:
        raise web.HTTPNotFound()
    path = confined(folder, request.match_info["path"])
    if not path.is_file():
        raise web.HTTPNotFound()
    return file_response(path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@routes.get("/i18n")
async def i18n(request: web.Request) -> web.Response:
    merged: dict[str, dict] = {}
    for pack in _packs(request):
        locales = pack / "locales"
        for lang_dir in sorted(locales.iterdir()) if locales.is_dir() else ():
            lang = merged.setdefault(lang_dir.name, {})
            main = _read_json(lang_dir / "main.json")
            if isinstance(main, dict):
                lang.update(main)
            for filename, section in _LOCALE_SECTIONS.items():
                part = _read_json(lang_dir / filename)
                if isinstance(part, dict):
                    lang.setdefault(section, {}).update(part)
    return web.json_response(merged)


def _blueprints(request: web.Request) -> dict[str, tuple[Path, dict]]:
    found = {}
    for pack in _packs(request):
        for path in sorted((pack / "subgraphs").glob("*.json")):
            blueprint_id = hashlib.sha256(str(path).encode()).hexdigest()
            found[blueprint_id] = (path, {"source": "custom_node", "name": path.stem,
                                          "info": {"node_pack": f"custom_nodes.{pack.name}"}})
    return found


@routes.get("/global_subgraphs")
async def global_subgraphs(request: web.Request) -> web.Response:
    return web.json_response({key: info for key, (_, info) in _blueprints(request).items()})


@routes.get("/global_subgraphs/{id}")
async def global_subgraph(request: web.Request) -> web.Response:
    found = _blueprints(request).get(request.match_info["id"])
    if found is None:
        return web.json_response(None)
    path, info = found
    return web.json_response({**info, "data": path.read_text(encoding="utf-8")})
