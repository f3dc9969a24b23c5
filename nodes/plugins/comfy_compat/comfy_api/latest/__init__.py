"""`comfy_api.latest`: `ComfyExtension`, `io` (alias `IO`), `ui` (alias `UI`), `ComfyAPI` and `ComfyAPISync`."""

from . import _io as io
from . import _ui as ui
from ._api import ComfyAPI, ComfyAPISync
from ._io import ComfyExtension

IO = io
UI = ui

__all__ = ["ComfyAPI", "ComfyAPISync", "ComfyExtension", "io", "ui", "IO", "UI"]
