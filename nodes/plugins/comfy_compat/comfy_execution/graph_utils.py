"""ComfyUI's `comfy_execution.graph_utils`: building node expansions (spec §6.7), diffloom's own implementation."""

from executor.graph_builder import GraphBuilder, is_link
from nodes.plugins.compat_import import missing_symbol

__all__ = ["GraphBuilder", "is_link"]


def __getattr__(name: str):
    raise missing_symbol(__name__, name, __all__)
