"""Devices and memory: where networks run, in which dtype, and moving them on and off the accelerator.

Device, precision and the memory kept free come from `runtime.settings.current()` (set by `runtime.configure`).
torch is imported only when a network is placed, so `offload_all` costs nothing in a process that never loaded one.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

from runtime.settings import current


def loaded_torch():
    """torch if this process imported it already, else None: device questions that can wait for a model to load
    (stats, emptying caches) never import it themselves."""
    return sys.modules.get("torch")


def device_stats(ram_total: int, ram_free: int) -> list[dict]:
    """The compute devices as `/system_stats` reports them; the CPU (with RAM figures) until CUDA is in use."""
    torch = loaded_torch()
    if torch is not None and torch.cuda.is_available():
        index = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)
        return [{"name": f"cuda:{index} {torch.cuda.get_device_name(index)}", "type": "cuda", "index": index,
                 "vram_total": total, "vram_free": free, "torch_vram_total": torch.cuda.memory_reserved(index),
                 "torch_vram_free": torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index)}]
    return [{"name": "cpu", "type": "cpu", "index": None, "vram_total": ram_total, "vram_free": ram_free,
             "torch_vram_total": ram_total, "torch_vram_free": ram_free}]


def empty_cache() -> None:
    """Return cached, unused accelerator memory to the driver (nothing to do on the CPU or before torch loads)."""
    torch = loaded_torch()
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
    elif torch is not None and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.empty_cache()


def compute_device():
    """The first configured device; without one, CUDA when present, else the CPU."""
    import torch

    devices = current().devices
    if devices:
        return torch.device(devices[0])
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def weight_dtype(device, role: str = "unet"):
    """The dtype of a network with `role` ("unet", "clip", "vae") on `device`, by the configured precision: "auto"
    is fp32 on the CPU and fp16 on CUDA, except the VAE (bf16, or fp32 without bf16), which overflows in fp16."""
    import torch

    precision = current().precision
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return torch.float32
    if role == "vae":
        if precision == "bf16":
            return torch.bfloat16
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float16


class DeviceResident:
    """Mixin for wrappers of networks that live on the CPU and move to the compute device to run.

    Subclasses list their networks in `_networks()`. Also implements the executor cache protocol.
    """

    def _networks(self) -> list:
        raise NotImplementedError

    @property
    def device(self):
        return next(self._networks()[0].parameters()).device

    @property
    def dtype(self):
        return next(self._networks()[0].parameters()).dtype

    def load(self, device=None) -> None:
        """Move the weights to `device` (default: the compute device), offloading others if VRAM is short."""
        import torch

        from runtime.weights.patches import restore_weights

        device = torch.device(device) if device is not None else compute_device()
        if device.type == "cuda":
            _make_room(self, device)
        for network in self._networks():
            if _device_of(network) != device:
                restore_weights(network)  # unpatched weights move; patches are re-applied where they run
                network.to(device)
        if device.type != "cpu":
            _resident[id(self)] = self
            _resident.move_to_end(id(self))

    def offload(self) -> None:
        from runtime.weights.patches import restore_weights

        for network in self._networks():
            restore_weights(network)  # else the unpatched backups would stay on the accelerator
            network.to("cpu")
        _resident.pop(id(self), None)

    def __cache_size__(self) -> tuple[int, int]:
        from runtime.weights.meta import tensor_bytes

        cpu = gpu = 0
        for network in self._networks():
            c, g = tensor_bytes(network)
            cpu, gpu = cpu + c, gpu + g
        return cpu, gpu

    def __cache_offload__(self) -> None:
        self.offload()


def _device_of(network):
    return next(network.parameters()).device


# wrappers whose weights are on an accelerator, least recently loaded first
_resident: OrderedDict[int, DeviceResident] = OrderedDict()


def _make_room(model: DeviceResident, device) -> None:
    import torch

    from runtime.weights.meta import tensor_bytes

    needed = sum(tensor_bytes(n)[0] for n in model._networks())
    reserve = current().memory.reserve_bytes
    for key in list(_resident):
        free, _ = torch.cuda.mem_get_info(device)
        if free >= needed + reserve:
            return
        other = _resident[key]
        if other is not model and not _shares_weights(other, model):
            other.offload()


def _shares_weights(a: DeviceResident, b: DeviceResident) -> bool:
    return any(x is y for x in a._networks() for y in b._networks())


def offload_all() -> None:
    """Move every resident network back to the CPU (the `/free` route and `runtime.release` use this)."""
    for model in list(_resident.values()):
        model.offload()
