"""A pinned version name of the V3 API; diffloom serves `comfy_api.latest` under it."""

from ..latest import IO, UI, ComfyExtension, io, ui

__all__ = ["ComfyExtension", "io", "ui", "IO", "UI"]
