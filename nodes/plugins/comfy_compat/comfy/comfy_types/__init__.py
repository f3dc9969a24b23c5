"""ComfyUI's `comfy.comfy_types`: IO, ComfyNodeABC, InputTypeDict (and the rest of `node_typing`)."""

from comfy.comfy_types.node_typing import (IO, CheckLazyMixin, ComfyNodeABC, HiddenInputTypeDict, InputTypeDict,
                                           InputTypeOptions)

__all__ = ["IO", "CheckLazyMixin", "ComfyNodeABC", "HiddenInputTypeDict", "InputTypeDict", "InputTypeOptions"]
