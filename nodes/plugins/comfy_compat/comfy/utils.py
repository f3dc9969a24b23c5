"""ComfyUI's `comfy.utils` for custom nodes: ProgressBar, common_upscale, load_torch_file."""

from __future__ import annotations

from executor import progress as _progress
from nodes.plugins.compat_import import missing_symbol

__all__ = ["ProgressBar", "common_upscale", "load_torch_file"]


class ProgressBar:
    """Per-node progress: each update goes to `executor.progress.report`, which also raises on interrupt.

    `node_id` is accepted for compatibility; progress always goes to the node that is running.
    """

    def __init__(self, total: int, node_id: str | None = None):
        self.total = total
        self.current = 0
        self.node_id = node_id

    def update_absolute(self, value: int, total: int | None = None, preview=None) -> None:
        if total is not None:
            self.total = total
        self.current = min(value, self.total)
        _progress.report(self.current, self.total, preview)

    def update(self, value: int) -> None:
        self.update_absolute(self.current + value)


def common_upscale(samples, width: int, height: int, upscale_method: str, crop: str):
    """Resize `[B,C,H,W]` to `height`x`width` with one of ComfyUI's methods; `crop="center"` keeps the aspect."""
    from runtime.imaging.resample import upscale

    return upscale(samples, width, height, upscale_method, crop)


def load_torch_file(ckpt: str, safe_load: bool = False, device=None, return_metadata: bool = False):
    """A state dict from a .safetensors/.sft file or a pickle checkpoint (read with `weights_only=True`).

    Pickles whose top level has a `state_dict` entry return that entry, as ComfyUI does.
    """
    import torch

    device = torch.device("cpu") if device is None else device
    metadata = None
    if str(ckpt).lower().endswith((".safetensors", ".sft")):
        from safetensors import safe_open

        state = {}
        with safe_open(str(ckpt), framework="pt", device=str(device)) as handle:
            metadata = handle.metadata()
            for key in handle.keys():
                state[key] = handle.get_tensor(key)
    else:
        loaded = torch.load(ckpt, map_location=device, weights_only=True)
        state = loaded["state_dict"] if isinstance(loaded, dict) and "state_dict" in loaded else loaded
    return (state, metadata) if return_metadata else state


def __getattr__(name: str):
    raise missing_symbol(__name__, name, __all__)
