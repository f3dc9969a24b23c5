"""Builds the aiohttp application: state, middlewares, every route bare and under `/api`, worker lifecycle."""

from __future__ import annotations

import logging

from aiohttp import web

from diffloom.config import ServerConfig
from runtime.paths import Paths
from nodes.registry import NodeRegistry
from web.server import (plugins, routes_diffloom, routes_files, routes_info, routes_jobs, routes_packs,
                        routes_queue, routes_user, routes_ws)
from web.server.hub import Hub
from web.server.logbuffer import LogBuffer
from web.server.queue_store import PromptStore
from web.server.security import cache_control, json_errors, make_security_middleware
from web.server.state import STATE, ServerState
from web.server.static import add_canvas_routes
from web.server.worker import QueueWorker

QUEUE_DB = "diffloom-queue.sqlite3"
_API_TABLES = (routes_ws.routes, routes_queue.routes, routes_jobs.routes, routes_info.routes, routes_files.routes,
               routes_user.routes, routes_packs.routes, routes_diffloom.routes, plugins.routes)
_INTERNAL_TABLES = (routes_info.internal_routes, routes_files.internal_routes)


def add_api_routes(app: web.Application, table: web.RouteTableDef) -> None:
    """Each route twice, bare and with the `/api` prefix (so `/api/jobs` is also `/api/api/jobs`), as ComfyUI."""
    for route in table:
        for prefix in ("", "/api"):
            app.router.add_route(route.method, prefix + route.path, route.handler, **route.kwargs)


def create_app(config: ServerConfig, registry: NodeRegistry, paths: Paths, *,
               start_worker: bool = True) -> web.Application:
    hub = Hub()
    logs = LogBuffer()
    logs.send = hub.send_sync
    logging.getLogger().addHandler(logs)
    state_box: list[ServerState] = []
    store = PromptStore(paths.user_dir / QUEUE_DB, exclusive=True,
                        on_change=lambda: hub.send_sync("status", state_box[0].status_message()))
    state = ServerState(config=config, registry=registry, paths=paths, store=store, hub=hub, logs=logs)
    state_box.append(state)
    state.worker = QueueWorker(config, registry, store, hub)

    app = web.Application(client_max_size=config.max_upload_bytes,
                          middlewares=[json_errors, make_security_middleware(config), cache_control])
    app[STATE] = state
    for table in _API_TABLES:
        add_api_routes(app, table)
    for table in _INTERNAL_TABLES:
        app.router.add_routes(table)
    plugins.attach_plugins(app, state)  # after every server route: a pack's route may not shadow one
    add_canvas_routes(app)

    async def start(app: web.Application) -> None:
        await hub.start()
        if start_worker:
            state.worker.start()

    async def stop(app: web.Application) -> None:
        state.worker.stop()
        await hub.stop()
        store.close()
        logging.getLogger().removeHandler(logs)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
