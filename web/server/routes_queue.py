"""`/prompt`, `/queue`, `/history`, `/interrupt`, `/free` (spec §1.3–§1.4), plus queue pause/resume/reorder."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from aiohttp import web

from web.server.errors import BadRequest, error_body, expect, expect_string_list, query_int, read_json_object
from web.server.queue_store import QueueItem
from web.server.state import ServerState, state_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

# extra_data keys kept out of the stored queue item and history; merged back only to run the prompt.
SENSITIVE_EXTRA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")


@routes.get("/prompt")
async def get_prompt(request: web.Request) -> web.Response:
    return web.json_response({"exec_info": {"queue_remaining": state_of(request).store.remaining()}})


@routes.post("/prompt")
async def post_prompt(request: web.Request) -> web.Response:
    answer, status = await queue_prompt(state_of(request), await read_json_object(request))
    return web.json_response(answer, status=status)


async def queue_prompt(state: ServerState, body: dict) -> tuple[dict, int]:
    """What POST /prompt does with its body: on_prompt hooks, priority, validation, then into the store.

    Returns the answer and its HTTP status: `{prompt_id, number, node_errors}` and 200, or the validation error
    with its `node_errors` and 400; a malformed body raises `BadRequest`. Shared with POST /diffloom/queue.
    """
    body = _apply_prompt_filters(state.prompt_filters, body)
    number = _priority(body, state)
    if "prompt" not in body:
        return error_body("no_prompt", "No prompt provided", "No prompt provided"), 400
    prompt = body["prompt"]
    if not isinstance(prompt, dict):
        raise BadRequest("Invalid prompt",
                         f"'prompt' must be an object of node id -> node, got {type(prompt).__name__}",
                         error_type="invalid_prompt")
    prompt_id = expect(body, "prompt_id", str) or str(uuid.uuid4())
    extra_data = dict(expect(body, "extra_data", dict, default={}))
    targets = body.get("partial_execution_targets")
    if targets is not None:
        targets = expect_string_list(body, "partial_execution_targets")
    # off the event loop: INPUT_TYPES of combo inputs may list model folders
    result = await asyncio.to_thread(_validate, prompt, state.registry.classes, targets)
    if not result.ok:
        return {"error": result.error, "node_errors": result.node_errors}, 400
    client_id = expect(body, "client_id", str)
    if client_id is not None:
        extra_data["client_id"] = client_id
    extra_data["create_time"] = int(time.time() * 1000)
    sensitive = {key: extra_data.pop(key) for key in SENSITIVE_EXTRA_KEYS if key in extra_data}
    try:
        state.store.put(QueueItem(number, prompt_id, prompt, extra_data, list(result.outputs), sensitive))
    except ValueError as exc:
        raise BadRequest("Duplicate prompt id", str(exc), error_type="duplicate_prompt_id")
    return {"prompt_id": prompt_id, "number": number, "node_errors": result.node_errors}, 200


def _apply_prompt_filters(filters: list, body: dict) -> dict:
    """Plugin on_prompt hooks may rewrite the body; one that raises or returns a non-object is skipped (logged)."""
    for rewrite in filters:
        try:
            rewritten = rewrite(body)
        except Exception:
            log.exception("on_prompt handler %r failed; the prompt goes on unchanged by it", rewrite)
            continue
        if isinstance(rewritten, dict):
            body = rewritten
    return body


def _priority(body: dict, state: ServerState) -> float:
    """An explicit `number`, else the server counter (negated for `front`); the counter moves on every POST."""
    if "number" in body:
        number = expect(body, "number", (int, float))
        if number is None:
            raise BadRequest("Invalid value for 'number'", "'number' must be a number")
        return float(number)
    return state.store.next_number(front=bool(body.get("front")))


def _validate(prompt: dict, classes: dict, targets: list[str] | None):
    from executor.validate import validate_prompt

    try:
        return validate_prompt(prompt, classes, partial_execution_targets=targets)
    except Exception as exc:  # a malformed prompt that trips validation is still the client's 400
        log.exception("validation raised")
        raise BadRequest("Invalid prompt", f"{type(exc).__name__}: {exc}", error_type="invalid_prompt")


async def _clear_and_delete(request: web.Request, clear, delete) -> web.Response:
    """Body {"clear": bool, "delete": [id, ...]} of POST /queue and /history: clear first, then delete the ids."""
    body = await read_json_object(request)
    ids = expect_string_list(body, "delete")
    if expect(body, "clear", bool, default=False):
        clear()
    if ids:
        delete(ids)
    return web.Response()


@routes.get("/queue")
async def get_queue(request: web.Request) -> web.Response:
    store = state_of(request).store
    return web.json_response({"queue_running": [item.as_list() for item in store.running()],
                              "queue_pending": [item.as_list() for item in store.pending()]})


@routes.post("/queue")
async def post_queue(request: web.Request) -> web.Response:
    store = state_of(request).store
    return await _clear_and_delete(request, store.clear_pending, store.delete_pending)


@routes.get("/history")
async def get_history(request: web.Request) -> web.Response:
    max_items = query_int(request, "max_items")
    offset = query_int(request, "offset", -1)
    return web.json_response(state_of(request).store.history(max_items, offset))


@routes.get("/history/{prompt_id}")
async def get_history_entry(request: web.Request) -> web.Response:
    prompt_id = request.match_info["prompt_id"]
    entry = state_of(request).store.history_entry(prompt_id)
    return web.json_response({prompt_id: entry} if entry is not None else {})


@routes.post("/history")
async def post_history(request: web.Request) -> web.Response:
    store = state_of(request).store
    return await _clear_and_delete(request, store.clear_history, store.delete_history)


@routes.post("/interrupt")
async def post_interrupt(request: web.Request) -> web.Response:
    body = await read_json_object(request, required=False)
    prompt_id = expect(body, "prompt_id", str)
    worker = state_of(request).worker
    if worker is not None and not worker.interrupt(prompt_id):
        log.info("interrupt for %s ignored: it is not running", prompt_id)
    return web.Response()


@routes.post("/free")
async def post_free(request: web.Request) -> web.Response:
    body = await read_json_object(request, required=False)
    unload = expect(body, "unload_models", bool, default=False)
    free = expect(body, "free_memory", bool, default=False)
    worker = state_of(request).worker
    if worker is not None:
        worker.request_free(unload or free, free)
    return web.Response()


# ---- beyond ComfyUI ---------------------------------------------------------------------------------------------
def _queue_state(store) -> dict:
    return {"paused": store.paused, "queue_remaining": store.remaining(),
            "queue_pending": [item.prompt_id for item in store.pending()]}


@routes.get("/diffloom/queue")
async def get_queue_state(request: web.Request) -> web.Response:
    return web.json_response(_queue_state(state_of(request).store))


@routes.post("/diffloom/queue/pause")
async def pause_queue(request: web.Request) -> web.Response:
    store = state_of(request).store
    store.set_paused(True)
    return web.json_response(_queue_state(store))


@routes.post("/diffloom/queue/resume")
async def resume_queue(request: web.Request) -> web.Response:
    store = state_of(request).store
    store.set_paused(False)
    return web.json_response(_queue_state(store))


@routes.post("/diffloom/queue/reorder")
async def reorder_queue(request: web.Request) -> web.Response:
    store = state_of(request).store
    order = expect_string_list(await read_json_object(request), "order")
    try:
        store.reorder(order)
    except (KeyError, ValueError) as exc:
        raise BadRequest("Cannot reorder the queue", str(exc).strip("'\""), error_type="invalid_order")
    return web.json_response(_queue_state(store))
