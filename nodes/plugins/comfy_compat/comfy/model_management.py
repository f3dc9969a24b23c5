"""ComfyUI's `comfy.model_management` for custom nodes: the device, interrupts and cache emptying."""

from __future__ import annotations

from executor import progress as _progress
from executor.progress import InterruptProcessing as InterruptProcessingException
from nodes.plugins.compat_import import missing_symbol

__all__ = ["InterruptProcessingException", "get_torch_device", "intermediate_device", "soft_empty_cache",
           "throw_exception_if_processing_interrupted"]


def get_torch_device():
    """The device diffloom runs models on (`runtime.devices.compute_device`: CUDA when present)."""
    from runtime.devices import compute_device

    return compute_device()


def intermediate_device():
    """Where node outputs such as images are kept between nodes (CPU, as in ComfyUI's default)."""
    import torch

    return torch.device("cpu")


def throw_exception_if_processing_interrupted() -> None:
    """Raise InterruptProcessingException when the user interrupted the running prompt."""
    _progress.check_interrupt()


def soft_empty_cache(force: bool = False) -> None:
    """Return cached, unused accelerator memory to the driver (`runtime.devices.empty_cache`)."""
    from runtime.devices import empty_cache

    empty_cache()


def __getattr__(name: str):
    raise missing_symbol(__name__, name, __all__)
