"""`GET /ws?clientId=…`: the socket a client watches its prompts through (spec §2.1)."""

from __future__ import annotations

import uuid

from aiohttp import web

from web.server.state import state_of

routes = web.RouteTableDef()


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    sid = request.query.get("clientId") or uuid.uuid4().hex
    greeting = [("status", {**state.status_message(), "sid": sid})]
    worker = state.worker
    if worker is not None and worker.current is not None and worker.current_client == sid and worker.last_node:
        greeting.append(("executing", {"node": worker.last_node}))  # a reconnecting tab sees where its prompt is
    return await state.hub.connect(request, sid, greeting, state.feature_flags())
