"""A pinned version name of the V3 API; diffloom serves `comfy_api.latest` under it."""

from ..latest import IO, UI, ComfyAPI, ComfyAPISync, ComfyExtension, io, ui

__all__ = ["ComfyAPI", "ComfyAPISync", "ComfyExtension", "io", "ui", "IO", "UI"]
