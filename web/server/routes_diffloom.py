"""diffloom's own routes for the canvas: editor→API conversion, queueing an editor workflow, the shipped workflows."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from nodes.registry import NodeRegistry
from web.server.errors import BadRequest, expect, read_json_object
from web.server.files import confined, file_response
from web.server.routes_queue import queue_prompt
from web.server.state import state_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "workflows"


@routes.post("/diffloom/convert")
async def convert(request: web.Request) -> web.Response:
    """Editor-format workflow in, API-format prompt out (400 naming the problem when it cannot convert)."""
    workflow = await read_json_object(request)
    return web.json_response(_convert(workflow, state_of(request).registry))


@routes.post("/diffloom/queue")
async def queue_workflow(request: web.Request) -> web.Response:
    """The canvas's Queue in one request: a POST /prompt body with an editor `workflow` in place of `prompt`.

    The workflow is converted, embedded as `extra_data.extra_pnginfo.workflow` (what the saved PNGs carry) and queued
    exactly as POST /prompt queues; a queued answer adds `node_count`, the converted prompt's size (the canvas's
    progress total).
    """
    state = state_of(request)
    body = await read_json_object(request)
    workflow = expect(body, "workflow", dict)
    if workflow is None:
        raise BadRequest("No workflow provided", "'workflow' must be an editor-format workflow object",
                         error_type="no_workflow")
    prompt = _convert(workflow, state.registry)
    extra_data = dict(expect(body, "extra_data", dict, default={}))
    extra_data["extra_pnginfo"] = {**expect(extra_data, "extra_pnginfo", dict, default={}), "workflow": workflow}
    del body["workflow"]  # on_prompt hooks see a plain POST /prompt body
    answer, status = await queue_prompt(state, {**body, "prompt": prompt, "extra_data": extra_data})
    if status == 200:
        answer["node_count"] = len(prompt)
    return web.json_response(answer, status=status)


def _convert(workflow: dict, registry: NodeRegistry) -> dict:
    """`editor_to_api` with the registry's classes; whatever the client's workflow trips on is a 400 naming it."""
    from executor.convert import editor_to_api

    try:  # untitled nodes get their display name as _meta.title, as the front end's graphToPrompt gives them
        return editor_to_api(workflow, registry.classes, registry.display_names)
    except Exception as exc:
        log.debug("conversion failed", exc_info=True)
        raise BadRequest("Cannot convert the workflow", f"{type(exc).__name__}: {exc}", error_type="convert_failed")


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
