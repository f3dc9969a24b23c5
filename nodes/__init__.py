"""Built-in nodes, with the module-level names ComfyUI's `nodes` module has (plugins import them)."""

from nodes.constants import MAX_RESOLUTION
from nodes.stages import collect as _collect

NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = _collect()

__all__ = ["MAX_RESOLUTION", "NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
