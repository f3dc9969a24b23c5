"""The one place where custom node packs meet the server: loading them, `PromptServer.instance`, their routes."""

from __future__ import annotations

import importlib.util

from aiohttp import web

from diffloom.config import ServerConfig
from nodes.registry import NodeRegistry
from web.server.state import ServerState


def load_node_registry(config: ServerConfig) -> NodeRegistry:
    """Built-in nodes plus the custom node packs (none with --disable-all-custom-nodes)."""
    registry = NodeRegistry.builtin()
    if hasattr(registry, "with_plugins"):
        registry.with_plugins(disable_all=config.disable_all_custom_nodes)
    return registry


def attach_plugins(app: web.Application, state: ServerState) -> None:
    """Connect `server.PromptServer.instance` to the hub and worker (plugin routes: filled by the plugin work)."""
    if importlib.util.find_spec("nodes.plugins") is None:
        return
    from nodes.plugins import bind_server

    bind_server(state.hub.send_sync,
                client_id_getter=lambda: state.worker.current_client if state.worker is not None else None,
                app=app)
