"""The output cache: results by signature, kept across prompts by one of five policies (spec §6.4).

"budget" (the default) keeps results within a byte budget counted separately for CPU RAM and GPU memory; over the
GPU budget the least recently used values move to CPU first, and only over the CPU budget are they dropped. Sizes
are found by duck typing, so this module never imports torch (see docs/executor.md for the protocol).
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass, field
from typing import Any

MODES = ("budget", "classic", "lru", "ram", "none")


@dataclass
class CacheSettings:
    mode: str = "budget"
    lru_size: int = 0
    cpu_budget_bytes: int | None = None  # None: a quarter of the machine's RAM
    gpu_budget_bytes: int | None = None  # None: half of the CUDA device's memory (when torch is already loaded)
    ram_threshold_gb: float = 4.0  # "ram" mode: evict while less than this much RAM is available

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"cache mode {self.mode!r} is not one of {', '.join(MODES)}")

    @classmethod
    def from_flags(cls, cache_lru: int = 0, cache_ram: float | None = None, cache_none: bool = False,
                   **budgets: Any) -> "CacheSettings":
        """ComfyUI's flag priority: --cache-lru N>0, then --cache-ram, then --cache-none, else our budget."""
        if cache_lru > 0:
            return cls(mode="lru", lru_size=cache_lru)
        if cache_ram is not None:
            return cls(mode="ram", ram_threshold_gb=cache_ram)
        if cache_none:
            return cls(mode="none")
        return cls(mode="budget", **budgets)


def measure(value: Any, seen: set[int] | None = None) -> tuple[int, int]:
    """(CPU bytes, GPU bytes) a value holds: tensors, numpy arrays, containers, `__cache_size__` objects."""
    seen = set() if seen is None else seen
    if id(value) in seen or value is None or isinstance(value, (bool, int, float, type)):
        return 0, 0
    seen.add(id(value))
    sizer = getattr(type(value), "__cache_size__", None)
    if sizer is not None:
        cpu, gpu = value.__cache_size__()
        return int(cpu), int(gpu)
    if hasattr(value, "element_size") and hasattr(value, "nelement") and hasattr(value, "device"):
        nbytes = value.element_size() * value.nelement()
        return (nbytes, 0) if value.device.type == "cpu" else (0, nbytes)
    if isinstance(value, (str, bytes, bytearray)):
        return len(value), 0
    if isinstance(value, dict):
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        nbytes = getattr(value, "nbytes", None)
        return (nbytes if isinstance(nbytes, int) else sys.getsizeof(value)), 0
    cpu = gpu = 0
    for item in items:
        c, g = measure(item, seen)
        cpu, gpu = cpu + c, gpu + g
    return cpu, gpu


def offload(value: Any) -> Any:
    """The value with its GPU tensors moved to CPU (containers rebuilt; `__cache_offload__` objects in place)."""
    if hasattr(type(value), "__cache_offload__"):
        value.__cache_offload__()
        return value
    if hasattr(value, "element_size") and hasattr(value, "device") and hasattr(value, "to"):
        return value if value.device.type == "cpu" else value.to("cpu")
    if isinstance(value, dict):
        if type(value) is dict:
            return {k: offload(v) for k, v in value.items()}
        for key, item in value.items():  # a mapping subclass may carry state: update it in place
            value[key] = offload(item)
        return value
    if isinstance(value, list):
        return [offload(v) for v in value]
    if isinstance(value, tuple):
        items = [offload(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value


def _machine_ram() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def available_ram() -> int:
    """Bytes of RAM the system can still give (MemAvailable), or a large number when unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def _gpu_memory() -> int:
    torch = sys.modules.get("torch")  # only if something else already loaded it
    try:
        if torch is not None and torch.cuda.is_available():
            return torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    except Exception:  # noqa: BLE001 - no usable device means no GPU budget to speak of
        pass
    return 0


@dataclass
class CacheEntry:
    outputs: list  # one list of items per output
    ui: dict | None
    root: str  # its own signature, or for an expanded node a key naming the prompt node that expanded it
    cpu_bytes: int = 0
    gpu_bytes: int = 0
    generation: int = 0
    stamp: int = 0


@dataclass
class OutputCache:
    settings: CacheSettings = field(default_factory=CacheSettings)
    entries: dict[str, CacheEntry] = field(default_factory=dict)
    generation: int = 0
    cpu_bytes: int = 0  # totals over `entries`, kept up to date by every change
    gpu_bytes: int = 0
    _clock: int = 0

    def get(self, signature: str) -> CacheEntry | None:
        entry = self.entries.get(signature)
        if entry is not None:
            self._touch(entry)
        return entry

    def __contains__(self, signature: str) -> bool:
        return signature in self.entries

    def set(self, signature: str, outputs: list, ui: dict | None, root: str | None = None) -> None:
        if self.settings.mode == "none":
            return
        cpu, gpu = measure([outputs, ui])
        entry = CacheEntry(outputs, ui, root or signature, cpu, gpu)
        self._touch(entry)
        self._drop(signature)
        self.entries[signature] = entry
        self.cpu_bytes += cpu
        self.gpu_bytes += gpu
        self._enforce()

    def begin_prompt(self, signatures: set[str]) -> None:
        """Start a prompt whose nodes have `signatures` (and roots): the classic and none policies drop here."""
        self.generation += 1
        if self.settings.mode == "none":
            self.clear()
        elif self.settings.mode == "classic":
            for signature, entry in list(self.entries.items()):
                if signature not in signatures and entry.root not in signatures:
                    self._drop(signature)

    def end_prompt(self) -> None:
        if self.settings.mode == "none":
            self.clear()

    def clear(self) -> None:
        self.entries.clear()
        self.cpu_bytes = self.gpu_bytes = 0

    def stats(self) -> dict:
        return {"entries": len(self.entries), "cpu_bytes": self.cpu_bytes, "gpu_bytes": self.gpu_bytes,
                "mode": self.settings.mode}

    def cpu_budget(self) -> int:
        budget = self.settings.cpu_budget_bytes
        return budget if budget is not None else _machine_ram() // 4

    def gpu_budget(self) -> int:
        budget = self.settings.gpu_budget_bytes
        return budget if budget is not None else _gpu_memory() // 2

    def _touch(self, entry: CacheEntry) -> None:
        self._clock += 1
        entry.stamp = self._clock
        entry.generation = self.generation

    def _drop(self, signature: str) -> None:
        entry = self.entries.pop(signature, None)
        if entry is not None:
            self.cpu_bytes -= entry.cpu_bytes
            self.gpu_bytes -= entry.gpu_bytes

    def _move_to_cpu(self, entry: CacheEntry) -> None:
        self.cpu_bytes -= entry.cpu_bytes
        self.gpu_bytes -= entry.gpu_bytes
        entry.outputs, entry.ui = offload(entry.outputs), offload(entry.ui)
        entry.cpu_bytes, entry.gpu_bytes = measure([entry.outputs, entry.ui])
        self.cpu_bytes += entry.cpu_bytes
        self.gpu_bytes += entry.gpu_bytes

    def _oldest_first(self) -> list[tuple[str, CacheEntry]]:
        return sorted(self.entries.items(), key=lambda item: item[1].stamp)

    def _enforce(self) -> None:
        mode = self.settings.mode
        if mode == "budget":
            self._enforce_budget()
        elif mode == "lru" and len(self.entries) > self.settings.lru_size:
            for signature, entry in self._oldest_first():
                if len(self.entries) <= self.settings.lru_size:
                    break
                if entry.generation < self.generation:  # the running prompt's results stay
                    self._drop(signature)
        elif mode == "ram":
            self._enforce_ram()

    def _enforce_budget(self) -> None:
        if self.gpu_bytes > self.gpu_budget():
            for _, entry in self._oldest_first():
                if self.gpu_bytes <= self.gpu_budget():
                    break
                if entry.gpu_bytes:
                    self._move_to_cpu(entry)
            for signature, entry in self._oldest_first():  # what could not move is dropped
                if self.gpu_bytes <= self.gpu_budget():
                    break
                if entry.gpu_bytes:
                    self._drop(signature)
        if self.cpu_bytes > self.cpu_budget():
            for signature, _ in self._oldest_first():
                if self.cpu_bytes <= self.cpu_budget():
                    break
                self._drop(signature)

    def _enforce_ram(self) -> None:
        threshold = int(self.settings.ram_threshold_gb * (1 << 30))
        if available_ram() >= threshold:
            return
        gc.collect()
        scored = sorted(self.entries.items(), reverse=True,
                        key=lambda item: 1.3 ** (self.generation - item[1].generation)
                        * (item[1].cpu_bytes * 0.5 + item[1].gpu_bytes))
        for signature, _ in scored:
            if available_ram() >= threshold * 1.1:
                break
            self._drop(signature)
            gc.collect()
