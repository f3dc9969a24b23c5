"""diffloom's own routes for the canvas: editor→API conversion and the shipped example workflows."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from web.server.errors import BadRequest, read_json_object
from web.server.files import confined, file_response
from web.server.state import state_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "workflows"


@routes.post("/diffloom/convert")
async def convert(request: web.Request) -> web.Response:
    """Editor-format workflow in, API-format prompt out (400 naming the problem when it cannot convert)."""
    workflow = await read_json_object(request)
    from executor.convert import editor_to_api

    registry = state_of(request).registry
    try:  # untitled nodes get their display name as _meta.title, as the front end's graphToPrompt gives them
        prompt = editor_to_api(workflow, registry.classes, registry.display_names)
    except Exception as exc:  # the workflow is client data: whatever it trips on is a 400, not a crash
        log.debug("conversion failed", exc_info=True)
        raise BadRequest("Cannot convert the workflow", f"{type(exc).__name__}: {exc}", error_type="convert_failed")
    return web.json_response(prompt)


def shipped_workflows(directory: Path = WORKFLOWS_DIR) -> list[str]:
    """Relative paths of the `.json` workflows shipped in the repository's workflows folder."""
    if not directory.is_dir():
        return []
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*.json") if p.is_file())


@routes.get("/diffloom/workflows")
async def list_workflows(request: web.Request) -> web.Response:
    return web.json_response(shipped_workflows())


@routes.get("/diffloom/workflows/{name:.+}")
async def get_workflow(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not name.endswith(".json"):
        name += ".json"
    path = confined(WORKFLOWS_DIR, name)
    if not path.is_file():
        raise web.HTTPNotFound(text=f"no shipped workflow named {request.match_info['name']!r}")
    return file_response(path)
