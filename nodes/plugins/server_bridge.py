"""The server as custom nodes see it (`server.PromptServer.instance`), bound to the real server at start-up.

Packs register HTTP routes on `PromptServer.instance.routes` while they are imported and send WebSocket events with
`send_sync`. Until `bind_server` is called (headless runs, tests) events are dropped and routes only collected.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

log = logging.getLogger("diffloom.plugins")

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass
class PluginRoute:
    method: str  # an HTTP method, "*" for class-based views, "STATIC" for static folders
    path: str
    handler: Any  # a coroutine function, an aiohttp View class, or the folder of a static route
    kwargs: dict = field(default_factory=dict)
    pack: str | None = None


class PluginRouteTable:
    """The `routes` packs decorate at import time, with aiohttp RouteTableDef's decorators (`get`, `post`, …).

    Every route remembers the pack being imported when it was declared, so a reload can replace that pack's routes.
    """

    def __init__(self):
        self._routes: list[PluginRoute] = []
        self._current_pack: str | None = None

    @contextlib.contextmanager
    def attributed_to(self, pack: str) -> Iterator[None]:
        previous, self._current_pack = self._current_pack, pack
        try:
            yield
        finally:
            self._current_pack = previous

    def route(self, method: str, path: str, **kwargs) -> Callable:
        def register(handler):
            self._routes.append(PluginRoute(method.upper(), path, handler, kwargs, self._current_pack))
            return handler
        return register

    def get(self, path: str, **kwargs) -> Callable:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Callable:
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> Callable:
        return self.route("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> Callable:
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> Callable:
        return self.route("DELETE", path, **kwargs)

    def head(self, path: str, **kwargs) -> Callable:
        return self.route("HEAD", path, **kwargs)

    def view(self, path: str, **kwargs) -> Callable:
        return self.route("*", path, **kwargs)

    def static(self, prefix: str, path, **kwargs) -> None:
        self._routes.append(PluginRoute("STATIC", prefix, path, kwargs, self._current_pack))

    def __iter__(self):
        return iter(list(self._routes))

    def __len__(self) -> int:
        return len(self._routes)

    def of_pack(self, pack: str) -> list[PluginRoute]:
        return [r for r in self._routes if r.pack == pack]

    def remove_pack(self, pack: str) -> None:
        self._routes = [r for r in self._routes if r.pack != pack]

    def current(self, method: str, path: str) -> PluginRoute | None:
        """The latest route declared for (method, path): after a reload, the reloaded pack's handler."""
        for route in reversed(self._routes):
            if route.method == method and route.path == path:
                return route
        return None


class PluginServer:
    """`PromptServer.instance` for custom nodes: routes, send_sync, client_id, send_progress_text."""

    instance: "PluginServer"

    def __init__(self):
        self.routes = PluginRouteTable()
        self.app = None
        self.loop = None
        self._send_sync: Callable[[str, Any, str | None], None] | None = None
        self._client_id: Callable[[], str | None] = lambda: None
        self._send_progress_text: Callable[[str, str, str | None], None] | None = None

    @property
    def client_id(self) -> str | None:
        """The client that queued the running prompt (None outside a run or when it gave none)."""
        return self._client_id()

    def send_sync(self, event: str, data: Any, sid: str | None = None) -> None:
        """Send a WebSocket event to client `sid` (None: every client), from any thread."""
        if self._send_sync is None:
            log.debug("plugin event %r dropped: no server is running", event)
            return
        self._send_sync(event, data, sid)

    def send_progress_text(self, text: str, node_id: str, sid: str | None = None) -> None:
        """Show `text` under node `node_id` in the canvas."""
        if self._send_progress_text is not None:
            self._send_progress_text(text, node_id, sid)
        else:
            self.send_sync("progress_text", {"text": text, "node_id": node_id}, sid)


PluginServer.instance = PluginServer()


def bind_server(send_sync: Callable[[str, Any, str | None], None], *,
                client_id_getter: Callable[[], str | None] | None = None,
                send_progress_text: Callable[[str, str, str | None], None] | None = None,
                app: Any = None, loop: Any = None) -> PluginServer:
    """Connect `PromptServer.instance` to the running server (called once by the server at start-up)."""
    server = PluginServer.instance
    server._send_sync = send_sync
    server._client_id = client_id_getter or (lambda: None)
    server._send_progress_text = send_progress_text
    server.app, server.loop = app, loop
    return server


def plugin_routes() -> PluginRouteTable:
    """Every route packs declared, in declaration order."""
    return PluginServer.instance.routes
