"""Build a network on the meta device and hand it the file's tensors, so loading needs no second copy in RAM."""

from __future__ import annotations

from collections.abc import Callable

import torch

from runtime.weights.files import ModelFileError


def on_meta(factory: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Build a network without allocating its weights."""
    with torch.device("meta"):
        return factory()


def assign_weights(module: torch.nn.Module, state_dict: dict[str, torch.Tensor], *, dtype: torch.dtype,
                   what: str) -> torch.nn.Module:
    """Give a meta-device network the file's tensors (cast to `dtype`); errors name `what` and the keys."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise ModelFileError(f"{what}: the weights do not fit the detected network: "
                             f"{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected "
                             f"(e.g. {unexpected[:3]})")
    weights = {}
    for key, value in state_dict.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelFileError(f"{what}: tensor {key!r} has shape {tuple(value.shape)}, "
                                 f"expected {tuple(expected[key].shape)}")
        weights[key] = value.to(dtype) if value.is_floating_point() else value
    module.load_state_dict(weights, strict=True, assign=True)
    _materialize_buffers(module, what)
    return module.eval().requires_grad_(False)


def _materialize_buffers(module: torch.nn.Module, what: str) -> None:
    """Buffers not stored in files (CLIP's position ids) are still on the meta device; compute them."""
    for name, buffer in list(module.named_buffers()):
        if not buffer.is_meta:
            continue
        owner_name, _, attr = name.rpartition(".")
        owner = module.get_submodule(owner_name)
        if attr != "position_ids":
            raise ModelFileError(f"{what}: buffer {name!r} is not in the file and cannot be computed")
        owner.register_buffer(attr, torch.arange(buffer.shape[-1]).expand(buffer.shape).contiguous(), persistent=False)


def tensor_bytes(module: torch.nn.Module) -> tuple[int, int]:
    """(bytes on CPU, bytes on accelerators) of a module's parameters and buffers."""
    cpu = gpu = 0
    for tensor in list(module.parameters()) + list(module.buffers()):
        size = tensor.numel() * tensor.element_size()
        if tensor.device.type == "cpu":
            cpu += size
        elif tensor.device.type != "meta":
            gpu += size
    return cpu, gpu
