"""ComfyUI's `server` module for custom nodes: `PromptServer.instance` (send_sync, routes, client_id)."""

from nodes.plugins.compat_import import missing_symbol
from nodes.plugins.server_bridge import PluginServer as PromptServer

__all__ = ["PromptServer"]


def __getattr__(name: str):
    raise missing_symbol(__name__, name, __all__)
