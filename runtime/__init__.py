"""The diffusion runtime: model families, loading, text encoders, VAEs, LoRA and ControlNet patching, sampling
math, devices and memory, image helpers and folders. Node functions call into it; it knows nothing of nodes or HTTP.

One front door: `configure(...)` once at start-up (by `diffloom serve`, `diffloom run` or a test), `release()` to
give back what it holds. `runtime.settings.current()` tells the rest of the runtime what was configured. Importing
this package does not import torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os

from runtime.paths import Paths
from runtime.settings import Memory, Settings, current, device_names, install, run_release_hooks

__all__ = ["Memory", "Paths", "Settings", "configure", "configured", "current", "offload_models", "release"]


def configure(*, paths: Paths | None = None, devices: str | list | tuple | None = None, precision: str = "auto",
              memory: Memory | None = None, metadata: bool = True) -> Settings:
    """Configure the runtime (every argument given explicitly, the rest at its default) and return the settings.

    `paths`: model, input, output, temp and user folders (default: rooted at the working directory); `devices`:
    device names, e.g. "cpu" or "cuda:0" (default: CUDA when present, else the CPU); `precision`: "auto", "fp32",
    "fp16" or "bf16"; `memory`: how much accelerator memory to keep free; `metadata`: embed workflows in saved files.
    """
    return install(Settings(paths=paths or Paths.create(os.getcwd()), devices=device_names(devices),
                            precision=precision, memory=memory or Memory(), metadata=bool(metadata)))


@contextlib.contextmanager
def configured(**changes):
    """Within the block, the current settings with `changes` (same names as `configure`); the previous ones after.
    Tests use it to point the runtime at their own folders."""
    previous = current()
    if "devices" in changes:
        changes["devices"] = device_names(changes["devices"])
    install(dataclasses.replace(previous, **changes))
    try:
        yield current()
    finally:
        install(previous)


def offload_models() -> None:
    """Move every network off the accelerators (the `/free` route's unload_models)."""
    from runtime.devices import offload_all

    offload_all()


def release() -> None:
    """Give back what the runtime holds: networks leave the accelerators, caches of loaded files are emptied, and
    the configuration returns to its defaults."""
    offload_models()
    run_release_hooks()
    install(None)
