"""The one place where custom node packs meet the server: loading them, `PromptServer.instance`, their routes.

Routes packs declare on `PromptServer.instance.routes` are served bare and under `/api`, through a dispatcher that
looks up the pack's current handler, so a live reload replaces handlers without restarting. Also here: the pack
status route and the reload route (documented in docs/plugins.md).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import struct

from aiohttp import web

from diffloom.config import ServerConfig
from nodes.registry import NodeRegistry
from web.server.errors import BadRequest
from web.server.hub import BINARY_TEXT
from web.server.state import ServerState, state_of

log = logging.getLogger("diffloom.plugins")

RELOADED_EVENT = "diffloom.custom_nodes"  # WebSocket event after a reload: canvases refetch /object_info
_SERVED = web.AppKey("diffloom_plugin_routes", set)  # (method, path) of the pack routes served since start-up
routes = web.RouteTableDef()


def load_node_registry(config: ServerConfig) -> NodeRegistry:
    """Built-in nodes plus the custom node packs (only whitelisted ones with --disable-all-custom-nodes).

    The packs' prestartup scripts run first, before the built-in nodes are imported.
    """
    from nodes.plugins import default_roots, run_prestartup_scripts

    whitelist = tuple(config.whitelist_custom_nodes)
    run_prestartup_scripts(default_roots(), disable_all=config.disable_all_custom_nodes, whitelist=whitelist)
    registry = NodeRegistry.builtin()
    return registry.with_plugins(disable_all=config.disable_all_custom_nodes, whitelist=whitelist)


def attach_plugins(app: web.Application, state: ServerState) -> None:
    """Bind `server.PromptServer.instance` to the hub and worker, and serve the packs' routes.

    The pack-status and reload routes below (`routes`) are mounted by app.py with the other server routes.
    """
    from nodes.plugins import CANVAS_EXTENSION, PluginServer, bind_server

    state.registry.web_directories.setdefault(*CANVAS_EXTENSION)

    def send_progress_text(text: str, node_id: str, sid: str | None = None) -> None:
        node = str(node_id).encode()
        payload = struct.pack(">I", len(node)) + node + str(text).encode()
        state.hub.send_sync(BINARY_TEXT, payload, sid if sid is not None else _current_client(state))

    bind_server(state.hub.send_sync, client_id_getter=lambda: _current_client(state),
                send_progress_text=send_progress_text, app=app)

    async def remember_loop(app: web.Application) -> None:
        PluginServer.instance.loop = asyncio.get_running_loop()

    app.on_startup.append(remember_loop)
    _add_pack_routes(app, state)


def _current_client(state: ServerState) -> str | None:
    return state.worker.current_client if state.worker is not None else None


def _add_pack_routes(app: web.Application, state: ServerState) -> None:
    """Every route the loaded packs declared, each refused (and reported) if it would shadow a server route."""
    from nodes.plugins import plugin_routes

    table = plugin_routes()
    taken = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    served: set[tuple[str, str]] = set()
    for route in table:
        key = (route.method, route.path)
        if key in served:
            continue
        served.add(key)
        try:
            _serve(app, table, route, taken)
        except (RuntimeError, ValueError, TypeError) as exc:
            problem = f"route {route.method} {route.path} not served: {exc}"
            log.warning("custom node pack %s: %s", route.pack, problem)
            report = _report(state, route.pack)
            if report is not None:
                report.warnings.append(problem)
    app[_SERVED] = served


def _serve(app: web.Application, table, route, taken: set) -> None:
    if route.method == "STATIC":
        app.router.add_static(route.path, route.handler, **route.kwargs)
        return
    if route.path.rstrip("/") in ("", "/index.html"):
        raise ValueError(f"{route.path} is the canvas page")
    for path in (route.path, "/api" + route.path):
        methods = {route.method, "HEAD"} if route.method == "GET" else {route.method}
        if any((m, path) in taken or ("*", path) in taken for m in methods):
            raise ValueError(f"{path} is already a diffloom route")
        handler = _dispatcher(table, route.method, route.path)
        if route.method == "GET":
            app.router.add_get(path, handler, **route.kwargs)
        else:
            app.router.add_route(route.method, path, handler, **route.kwargs)


def _dispatcher(table, method: str, path: str):
    """A handler that calls the latest handler declared for (method, path): after a reload, the new code's."""
    async def dispatch(request: web.Request) -> web.StreamResponse:
        route = table.current(method, path)
        if route is None:
            raise web.HTTPNotFound(text=f"{method} {path} was removed by a custom node pack reload")
        result = route.handler(request)
        return await result if inspect.isawaitable(result) else result
    return dispatch


def _report(state: ServerState, pack: str | None):
    plugins = state.registry.plugins
    return plugins.reports.get(pack) if plugins is not None and pack is not None else None


def _forget_results(executor) -> None:
    """Results computed by the old code must not be reused: later prompts start from an empty cache.

    The cache is replaced rather than cleared: a prompt running right now keeps its own reference to the old one,
    so nothing changes under it (and the worker thread needs no lock).
    """
    from executor.cache import OutputCache

    executor.cache = OutputCache(executor.cache.settings)


@routes.get("/diffloom/custom_nodes")
async def custom_node_packs(request: web.Request) -> web.Response:
    """Every pack found: status, import seconds, error and traceback, nodes, warnings, web folder, routes."""
    state = state_of(request)
    plugins = state.registry.plugins
    packs = [report.to_json() for report in plugins.reports.values()] if plugins is not None else []
    return web.json_response({"enabled": not state.config.disable_all_custom_nodes,
                              "roots": [str(root) for root in plugins.roots] if plugins is not None else [],
                              "packs": packs})


@routes.post("/diffloom/custom_nodes/{name}/reload")
async def reload_pack(request: web.Request) -> web.Response:
    """Re-import one pack from disk; its nodes, routes and web folder are replaced and the result cache cleared."""
    from nodes.plugins import PackNotFound

    state = state_of(request)
    name = request.match_info["name"]
    plugins = state.registry.plugins
    if plugins is None or (state.config.disable_all_custom_nodes and name not in plugins.whitelist):
        raise BadRequest("Custom nodes are disabled", "the server runs with --disable-all-custom-nodes",
                         status=409, error_type="custom_nodes_disabled")
    try:
        report = await asyncio.to_thread(plugins.reload, name)
    except PackNotFound as exc:
        raise BadRequest("Unknown custom node pack", str(exc.args[0]), status=404, error_type="unknown_pack")
    served = request.app.get(_SERVED, set())
    for route in plugins.routes.of_pack(name):
        if route.method != "STATIC" and (route.method, route.path) not in served:
            report.warnings.append(f"route {route.method} {route.path} is new: it is served after a restart")
    if state.worker is not None:
        _forget_results(state.worker.executor)
    state.hub.send_sync(RELOADED_EVENT, {"pack": name, "status": report.status, "nodes": report.nodes,
                                         "error": report.error})
    return web.json_response(report.to_json())
