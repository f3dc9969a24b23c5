"""Image adjustment nodes for diffloom (and ComfyUI): adjust, levels, auto contrast, tint, with a colour widget.

The example pack of docs/plugins.md: a package with relative imports, ComfyUI compatibility imports, a
ProgressBar, VALIDATE_INPUTS, and a canvas extension in WEB_DIRECTORY.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
