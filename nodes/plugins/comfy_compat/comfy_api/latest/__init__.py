"""`comfy_api.latest`: `ComfyExtension`, `io` (alias `IO`) and `ui` (alias `UI`)."""

from . import _io as io
from . import _ui as ui
from ._io import ComfyExtension

IO = io
UI = ui

__all__ = ["ComfyExtension", "io", "ui", "IO", "UI"]
