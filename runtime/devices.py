"""Devices and memory: where networks run, in which dtype, and moving them on and off the accelerator."""

from __future__ import annotations

import os
from collections import OrderedDict

import torch

from runtime.weights.meta import tensor_bytes
from runtime.weights.patches import restore_weights

VRAM_HEADROOM = 1024 ** 3  # kept free for activations when deciding what to offload


def compute_device() -> torch.device:
    """CUDA when present (DIFFLOOM_DEVICE=cpu forces the CPU), else the CPU."""
    wanted = os.environ.get("DIFFLOOM_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def weight_dtype(device: torch.device, role: str = "unet") -> torch.dtype:
    """fp32 on the CPU; fp16 for UNet and text encoders on CUDA, bf16 (or fp32) for the VAE, which overflows in fp16."""
    if device.type != "cuda":
        return torch.float32
    if role == "vae":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.float16


class DeviceResident:
    """Mixin for wrappers of networks that live on the CPU and move to the compute device to run.

    Subclasses list their networks in `_networks()`. Also implements the executor cache protocol.
    """

    def _networks(self) -> list[torch.nn.Module]:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self._networks()[0].parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self._networks()[0].parameters()).dtype

    def load(self, device: torch.device | str | None = None) -> None:
        """Move the weights to `device` (default: the compute device), offloading others if VRAM is short."""
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
        for network in self._networks():
            restore_weights(network)  # else the unpatched backups would stay on the accelerator
            network.to("cpu")
        _resident.pop(id(self), None)

    def __cache_size__(self) -> tuple[int, int]:
        cpu = gpu = 0
        for network in self._networks():
            c, g = tensor_bytes(network)
            cpu, gpu = cpu + c, gpu + g
        return cpu, gpu

    def __cache_offload__(self) -> None:
        self.offload()


def _device_of(network: torch.nn.Module) -> torch.device:
    return next(network.parameters()).device


# wrappers whose weights are on an accelerator, least recently loaded first
_resident: OrderedDict[int, DeviceResident] = OrderedDict()


def _make_room(model: DeviceResident, device: torch.device) -> None:
    needed = sum(tensor_bytes(n)[0] for n in model._networks())
    for key in list(_resident):
        free, _ = torch.cuda.mem_get_info(device)
        if free >= needed + VRAM_HEADROOM:
            return
        other = _resident[key]
        if other is not model and not _shares_weights(other, model):
            other.offload()


def _shares_weights(a: DeviceResident, b: DeviceResident) -> bool:
    return any(x is y for x in a._networks() for y in b._networks())


def offload_all() -> None:
    """Move every resident network back to the CPU (the `/free` route and interrupts use this)."""
    for model in list(_resident.values()):
        model.offload()
