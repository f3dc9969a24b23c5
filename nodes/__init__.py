"""Built-in nodes, with the module-level names ComfyUI's `nodes` module has (plugins import them)."""

from nodes.constants import MAX_RESOLUTION
from nodes.stages import collect as _collect

NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = _collect()

__all__ = ["MAX_RESOLUTION", "NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]


def __getattr__(name: str):
    """`from nodes import SaveImage`: built-in classes by registry name, as ComfyUI's nodes module offers them."""
    try:
        return NODE_CLASS_MAPPINGS[name]
    except KeyError:
        raise AttributeError(f"module 'nodes' has no attribute {name!r} (not a built-in node class)") from None
