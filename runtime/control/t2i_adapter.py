"""T2I-Adapters (Mou et al. 2023) loaded through ControlNetLoader, as ComfyUI does (spec §9.5).

An adapter turns the hint image into one feature map per UNet down block, once per hint size (not per step);
diffusers' UNet adds them inside its down blocks (`down_intrablock_additional_residuals`). SD1.x/SD2.x
(`full_adapter`, pixel-unshuffle 8) and SDXL (`full_adapter_xl`, unshuffle 16) adapters are supported, in the
original TencentARC layout (`conv_in`, `body.N.block1`) and the diffusers layout (`adapter.body.N.resnets.M.*`).
The CONTROL_NET value is a `ControlNet` subclass, so the apply nodes, chaining and percent ranges are shared.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from runtime.control.controlnet import ControlNet, merge_residuals
from runtime.devices import DeviceResident, compute_device
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.weights.meta import assign_weights, on_meta

# pixel-unshuffled input channels (3 colours or 1 grey, times factor²) → (family, unshuffle factor)
_INPUTS = {3 * 64: ("sd1", 8), 64: ("sd1", 8), 3 * 256: ("sdxl", 16), 256: ("sdxl", 16)}


class AdapterWeights(DeviceResident):
    """A loaded adapter network (diffusers `T2IAdapter`), its family and file."""

    context_dim = None  # adapters never see the text, so any text width fits

    def __init__(self, network, family: str, path: Path, unshuffle: int, colours: int):
        self.network = network
        self.family = family
        self.path = path
        self.unshuffle = unshuffle
        self.colours = colours
        self.global_average_pooling = False

    def _networks(self):
        return [self.network]


def _original_to_diffusers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """TencentARC names (`body.{2i+j}.block1`, `body.{2i}.in_conv`, `conv_in`) → diffusers `adapter.*` names."""
    out = {}
    for key, value in state.items():
        if match := re.fullmatch(r"body\.(\d+)\.(block1|block2)\.(weight|bias)", key):
            index = int(match.group(1))
            out[f"adapter.body.{index // 2}.resnets.{index % 2}.{match.group(2)}.{match.group(3)}"] = value
        elif match := re.fullmatch(r"body\.(\d+)\.in_conv\.(weight|bias)", key):
            out[f"adapter.body.{int(match.group(1)) // 2}.in_conv.{match.group(2)}"] = value
        elif key.startswith("conv_in."):
            out["adapter." + key] = value
        else:
            raise ModelFileError(f"unexpected T2I-Adapter key {key!r} (adapters with convolutional downsampling "
                                 "are not supported)")
    return out


def adapter_state(state: dict[str, torch.Tensor], what: str) -> dict[str, torch.Tensor] | None:
    """The adapter's weights in diffusers names, None if the file is no T2I-Adapter; refuses other kinds."""
    if "adapter.body.0.resnets.0.block1.weight" in state and "adapter.conv_in.weight" in state:
        return {k: v for k, v in state.items() if k.startswith("adapter.")}
    if "conv_in.weight" in state and "body.0.block1.weight" in state:
        return _original_to_diffusers(state)
    if "body.0.in_conv.weight" in state or "adapter.body.0.in_conv.weight" in state or \
            "backbone.0.0.weight" in state:
        raise ModelFileError(f"{what}: a light or Co-Adapter T2I-Adapter, which diffloom does not support; "
                             "full T2I-Adapters (SD1.x, SDXL) are")
    return None


def _adapter_network(state: dict[str, torch.Tensor], what: str):
    from diffusers import T2IAdapter

    conv_in = state["adapter.conv_in.weight"]
    if conv_in.shape[1] not in _INPUTS:
        raise ModelFileError(f"{what}: a T2I-Adapter with {conv_in.shape[1]} input channels after unshuffling; "
                             "expected 64 or 192 (SD1.x) or 256 or 768 (SDXL)")
    family, unshuffle = _INPUTS[conv_in.shape[1]]
    blocks = sorted({int(k.split(".")[2]) for k in state if k.startswith("adapter.body.")})
    channels = [conv_in.shape[0]]
    for block in blocks[1:]:
        in_conv = state.get(f"adapter.body.{block}.in_conv.weight")
        channels.append(in_conv.shape[0] if in_conv is not None else channels[-1])
    resnets = len({k.split(".")[4] for k in state if k.startswith("adapter.body.0.resnets.")})
    colours = conv_in.shape[1] // unshuffle ** 2
    network = on_meta(lambda: T2IAdapter(in_channels=colours, channels=channels, num_res_blocks=resnets,
                                         downscale_factor=unshuffle,
                                         adapter_type="full_adapter_xl" if family == "sdxl" else "full_adapter"))
    return network, family, unshuffle, colours


def load_t2i_adapter(path: str | Path) -> "T2IAdapterControl | None":
    """The T2I-Adapter in `path` as a CONTROL_NET, or None when the file holds no adapter."""
    path = Path(path)
    state = adapter_state(load_state_dict(path), str(path))
    if state is None:
        return None
    network, family, unshuffle, colours = _adapter_network(state, str(path))
    network = assign_weights(network, state, dtype=torch.float32, what=f"{path} (T2I-Adapter)")
    return T2IAdapterControl(AdapterWeights(network, family, path, unshuffle, colours))


class T2IAdapterControl(ControlNet):
    """CONTROL_NET for a T2I-Adapter: its features (× strength) go inside the UNet's down blocks."""

    def __repr__(self) -> str:
        return f"T2IAdapter({self.weights.path.name!r}, family={self.family!r}, strength={self.strength})"

    def check_model(self, family: str, what: str) -> None:
        if family == "sd2" and self.family == "sd1":
            return  # same block widths: SD1.x adapters also steer SD2.x models
        super().check_model(family, what)

    def _features(self, x: torch.Tensor, n_chunks: int) -> list[torch.Tensor]:
        """Adapter features for this latent size, batch-repeated like the hint; computed once per size."""
        from runtime.imaging.resample import upscale

        weights = self.weights
        step = weights.unshuffle
        height = math.ceil(x.shape[-2] * self._downscale / step) * step
        width = math.ceil(x.shape[-1] * self._downscale / step) * step
        key = ("features", height, width, x.shape[0], n_chunks)
        if key not in self._hint_cache:
            method = "bilinear" if self.family == "sdxl" else "nearest-exact"
            hint = upscale(self.hint.float(), width, height, method, "center")
            if weights.colours == 1:
                hint = hint.mean(dim=1, keepdim=True)
            weights.load(compute_device())
            with torch.no_grad():
                features = weights.network(hint.to(weights.device, weights.dtype))
            per_chunk = x.shape[0] // max(1, n_chunks)
            repeats = -(-per_chunk // hint.shape[0])
            self._hint_cache[key] = [f.repeat(repeats, 1, 1, 1)[:per_chunk].repeat(n_chunks, 1, 1, 1) * self.strength
                                     for f in features]
        return self._hint_cache[key]

    def get_control(self, x_noisy: torch.Tensor, sigma: torch.Tensor, cond: dict, n_chunks: int) -> dict | None:
        previous = self.previous.get_control(x_noisy, sigma, cond, n_chunks) if self.previous else None
        if self.hint is None or not self._active(float(sigma.reshape(-1)[0])):
            return previous
        return merge_residuals({"intrablock": self._features(cond["x_in"], n_chunks)}, previous)
