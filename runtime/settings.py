"""The runtime's configuration, as `runtime.configure` (the one front door) set it: folders, devices, precision,
memory and the metadata switch. Modules that depend on it read `current()`; nothing else sets it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.paths import Paths

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
DEVICE_NAME = re.compile(r"cpu|mps|(cuda|xpu)(:\d+)?")
GIB = 1024 ** 3


@dataclass(frozen=True)
class Memory:
    """`reserve_bytes` of accelerator memory stay free for activations: models are offloaded to keep it."""

    reserve_bytes: int = GIB


@dataclass(frozen=True)
class Settings:
    """`devices`: where networks run, first one first (empty: the first CUDA device when there is one, else the CPU).
    `precision`: "auto" (fp32 on the CPU; fp16 networks and a bf16 or fp32 VAE on CUDA), or "fp32", "fp16", "bf16"
    for every network (the VAE never runs in fp16, which overflows). `metadata`: workflow and prompt in saved files."""

    paths: Paths
    devices: tuple[str, ...] = ()
    precision: str = "auto"
    memory: Memory = field(default_factory=Memory)
    metadata: bool = True

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        for device in self.devices:
            if not DEVICE_NAME.fullmatch(device):
                raise ValueError(f"device {device!r} is not a device name (cpu, cuda, cuda:N, mps, xpu:N)")
        if self.memory.reserve_bytes < 0:
            raise ValueError(f"memory.reserve_bytes must be at least 0, got {self.memory.reserve_bytes}")


def device_names(devices: str | tuple | list | None) -> tuple[str, ...]:
    """`"cuda:0,cuda:1"`, a list of names or None as a tuple of names."""
    if devices is None:
        return ()
    if isinstance(devices, str):
        devices = devices.split(",")
    return tuple(d.strip() for d in devices if d.strip())


_settings: Settings | None = None
_release_hooks: list[Callable[[], None]] = []


def current() -> Settings:
    """The configured settings; before any `runtime.configure`, the defaults with folders in the working directory."""
    global _settings
    if _settings is None:
        _settings = Settings(paths=Paths.create(os.getcwd()))
    return _settings


def install(settings: Settings | None) -> Settings | None:
    """Make `settings` current (None: back to the defaults). Only `runtime.configure` and its kin call this."""
    global _settings
    _settings = settings
    return settings


def on_release(hook: Callable[[], None]) -> None:
    """Have `runtime.release()` call `hook` (a module that caches what it loaded empties its cache)."""
    _release_hooks.append(hook)


def run_release_hooks() -> None:
    for hook in list(_release_hooks):
        hook()
