"""UPSCALE_MODEL: super-resolution networks detected from their state dict, and tiled upscaling with progress.

Supported: ESRGAN / Real-ESRGAN RRDBNet (original `model.N.sub.*` and BasicSR `conv_first`/`body.N.rdbK` key
layouts, Real-ESRGAN's pixel-unshuffle ×1/×2 variants), Real-ESRGAN's SRVGGNetCompact and SwinIR
(`runtime.upscale.swinir`). spandrel, which knows
many more, cannot be used: it imports torchvision at import time, and there is no CPU torchvision here.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from runtime.devices import DeviceResident, compute_device
from runtime.weights.files import ModelFileError, load_weights_object
from runtime.weights.meta import assign_weights, on_meta
from runtime.upscale.swinir import is_swinir, pad_to_multiple, swinir_from_state_dict

TILE, OVERLAP, MIN_TILE = 512, 32, 128
_KNOWN_OTHERS = {"relative_position_index_SA": "HAT", "layers.0.residual_group.blocks.0.attn.logit_scale": "Swin2SR",
                 "layers.0.residual_group.blocks.0.norm1.weight": "a SwinIR-family model (HAT, Swin2SR, …)",
                 "body.0.body.0.weight": "RCAN/EDSR-style", "conv_before_upsample.0.weight": "SwinIR-family",
                 "encoder.0.weight": "an encoder-decoder restoration model"}


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ResidualDenseBlock(nn.Module):
    """Five 3×3 convs, each fed every earlier output; the result is added back scaled by 0.2."""

    def __init__(self, features: int, growth: int):
        super().__init__()
        for i in range(5):
            out = features if i == 4 else growth
            setattr(self, f"conv{i + 1}", nn.Conv2d(features + i * growth, out, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for i in range(1, 5):
            outputs.append(_lrelu(getattr(self, f"conv{i}")(torch.cat(outputs, 1))))
        return x + 0.2 * self.conv5(torch.cat(outputs, 1))


class RRDB(nn.Module):
    def __init__(self, features: int, growth: int):
        super().__init__()
        self.rdb1, self.rdb2, self.rdb3 = (ResidualDenseBlock(features, growth) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN (Wang et al. 2018): RRDB trunk, nearest-neighbour ×2 upsampling stages, two output convs."""

    def __init__(self, in_channels: int, out_channels: int, features: int, growth: int, blocks: int,
                 upsamples: int, unshuffle: int = 1):
        super().__init__()
        self.unshuffle = unshuffle
        self.conv_first = nn.Conv2d(in_channels * unshuffle ** 2, features, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(features, growth) for _ in range(blocks)])
        self.conv_body = nn.Conv2d(features, features, 3, padding=1)
        self.ups = nn.ModuleList([nn.Conv2d(features, features, 3, padding=1) for _ in range(upsamples)])
        self.conv_hr = nn.Conv2d(features, features, 3, padding=1)
        self.conv_last = nn.Conv2d(features, out_channels, 3, padding=1)

    @property
    def scale(self) -> int:
        return 2 ** len(self.ups) // self.unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        features = self.conv_first(x)
        features = features + self.conv_body(self.body(features))
        for conv in self.ups:
            features = _lrelu(conv(F.interpolate(features, scale_factor=2, mode="nearest")))
        return self.conv_last(_lrelu(self.conv_hr(features)))


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact net: plain conv + PReLU stack, pixel shuffle, plus the nearest-upsampled input."""

    def __init__(self, in_channels: int, out_channels: int, features: int, convs: int, scale: int):
        super().__init__()
        self.scale = scale
        layers = [nn.Conv2d(in_channels, features, 3, padding=1), nn.PReLU(features)]
        for _ in range(convs):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.PReLU(features)]
        layers.append(nn.Conv2d(features, out_channels * scale ** 2, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pixel_shuffle(self.body(x), self.scale)
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")


def _old_esrgan_to_new(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original ESRGAN names (`model.0`, `model.1.sub.N.RDBk.convM.0`, `model.{3,6,…}`) → RRDBNet names."""
    tops = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight", k))} - {0, 1})
    *ups, hr, last = tops
    rename = {0: "conv_first", hr: "conv_hr", last: "conv_last", **{n: f"ups.{i}" for i, n in enumerate(ups)}}
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB", k))}
    out = {}
    for key, value in state.items():
        if m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", key):
            out[f"{rename[int(m.group(1))]}.{m.group(2)}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)", key):
            out[f"body.{m.group(1)}.rdb{m.group(2)}.conv{m.group(3)}.{m.group(4)}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.(weight|bias)", key):
            if int(m.group(1)) != len(blocks):
                raise ModelFileError(f"unexpected ESRGAN key {key!r}")
            out[f"conv_body.{m.group(2)}"] = value
        else:
            raise ModelFileError(f"unexpected ESRGAN key {key!r}")
    return out


def _new_esrgan_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR names (`conv_up1`, `conv_up2`, …) → RRDBNet names (`ups.0`, …)."""
    return {re.sub(r"^conv_up(\d+)\.", lambda m: f"ups.{int(m.group(1)) - 1}.", k): v for k, v in state.items()}


def _rrdbnet(state: dict[str, torch.Tensor]) -> RRDBNet:
    first, last = state["conv_first.weight"], state["conv_last.weight"]
    out_channels = last.shape[0]
    # Real-ESRGAN ×2 / ×1 models unshuffle the input by 2 / 4 and keep the ×4 trunk
    unshuffle = {out_channels * 4: 2, out_channels * 16: 4}.get(first.shape[1], 1)
    blocks = len({k.split(".")[1] for k in state if k.startswith("body.")})
    upsamples = len({k.split(".")[1] for k in state if k.startswith("ups.")})
    return RRDBNet(first.shape[1] // unshuffle ** 2, out_channels, first.shape[0],
                   state["body.0.rdb1.conv1.weight"].shape[0], blocks, upsamples, unshuffle)


def _compact(state: dict[str, torch.Tensor]) -> SRVGGNetCompact:
    convs = sorted(int(k.split(".")[1]) for k, v in state.items()
                   if re.fullmatch(r"body\.\d+\.weight", k) and v.dim() == 4)  # the others are PReLU slopes
    first, last = state["body.0.weight"], state[f"body.{convs[-1]}.weight"]
    in_channels = first.shape[1]
    scale = round((last.shape[0] / in_channels) ** 0.5)
    return SRVGGNetCompact(in_channels, in_channels, first.shape[0], len(convs) - 2, scale)


def architecture_from_state_dict(state: dict[str, torch.Tensor], what: str) -> tuple[str, nn.Module, dict]:
    """(architecture name, network on the meta device, state dict in its names)."""
    if "model.0.weight" in state and "model.1.sub.0.RDB1.conv1.0.weight" in state:
        state = _old_esrgan_to_new(state)
    elif "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state:
        state = _new_esrgan_names(state)
    elif "body.0.weight" in state and state.get("body.1.weight") is not None and state["body.1.weight"].dim() == 1:
        return "RealESRGAN-compact", on_meta(lambda: _compact(state)), state
    elif is_swinir(state):
        network, state = swinir_from_state_dict(state, what)
        return "SwinIR", network, state
    else:
        known = next((name for key, name in _KNOWN_OTHERS.items() if key in state), None)
        found = f"it looks like {known}, which is not supported" if known else \
            f"unrecognised keys (e.g. {sorted(state)[:3]})"
        raise ModelFileError(f"{what}: unknown upscale model architecture: {found}; supported are ESRGAN / "
                             "Real-ESRGAN (RRDBNet), Real-ESRGAN compact (SRVGGNetCompact) and SwinIR")
    return "ESRGAN", on_meta(lambda: _rrdbnet(state)), state


class UpscaleModel(DeviceResident):
    """UPSCALE_MODEL: an image-to-image network `[B,C,H,W]` → `[B,C,H·scale,W·scale]`."""

    def __init__(self, architecture: str, network: nn.Module):
        self.architecture = architecture
        self.network = network
        self.scale = network.scale

    def _networks(self):
        return [self.network]

    def __repr__(self) -> str:
        return f"UpscaleModel({self.architecture}, ×{self.scale})"

    @property
    def in_channels(self) -> int:
        """Colour channels the network takes: 3 for RGB models, 1 for grayscale ones."""
        network = self.network
        if isinstance(network, RRDBNet):
            return network.conv_first.in_channels // network.unshuffle ** 2
        if isinstance(network, SRVGGNetCompact):
            return network.body[0].in_channels
        return network.config.in_channels  # SwinIR

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network(pixels.to(self.device, self.dtype)).float()


def upscale_model_from_state_dict(state: dict, what: str) -> UpscaleModel:
    for wrapper in ("params_ema", "params", "state_dict"):  # BasicSR / Lightning training checkpoints
        if isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    state = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    architecture, network, state = architecture_from_state_dict(state, what)
    return UpscaleModel(architecture, assign_weights(network, state, dtype=torch.float32, what=what))


def load_upscale_model(path: str | Path) -> UpscaleModel:
    data = load_weights_object(path)
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a dict of tensors, found {type(data).__name__}")
    return upscale_model_from_state_dict(data, str(path))


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins covering `length`, consecutive tiles sharing `overlap` pixels; the last one ends flush."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap)) + [length - tile]
    return sorted(set(starts))


def _ramp(length: int, feather: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """1-D blending weights: linear ramps of `feather` samples at inner tile edges (none at image borders)."""
    weights = torch.ones(length)
    ramp = torch.arange(1, feather + 1, dtype=torch.float32) / (feather + 1)
    if feather and at_start:
        weights[:feather] = ramp
    if feather and at_end:
        weights[-feather:] = ramp.flip(0)
    return weights


def tiled_upscale(function, pixels: torch.Tensor, scale: int, tile: int = TILE, overlap: int = OVERLAP,
                  on_tile=None) -> torch.Tensor:
    """Apply `function` to overlapping tile×tile windows of `[B,C,H,W]` and blend the results linearly across
    the overlaps. `on_tile(done, total)` is called after each tile."""
    batch, _, height, width = pixels.shape
    ys, xs = _starts(height, tile, overlap), _starts(width, tile, overlap)
    total, done = batch * len(ys) * len(xs), 0
    out = weights = None
    feather = overlap * scale
    for b in range(batch):
        for y in ys:
            for x in xs:
                window = pixels[b:b + 1, :, y:y + tile, x:x + tile]
                result = function(window).to(pixels.device, torch.float32)
                if out is None:
                    out = torch.zeros(batch, result.shape[1], height * scale, width * scale)
                    weights = torch.zeros(1, 1, height * scale, width * scale)
                h, w = result.shape[-2:]
                mask = (_ramp(h, feather, y > 0, y + tile < height)[:, None]
                        * _ramp(w, feather, x > 0, x + tile < width)[None, :])
                top, left = y * scale, x * scale
                out[b:b + 1, :, top:top + h, left:left + w] += result * mask
                if b == 0:
                    weights[..., top:top + h, left:left + w] += mask
                done += 1
                if on_tile is not None:
                    on_tile(done, total)
    return out / weights


def upscale_image(model: UpscaleModel, image: torch.Tensor, tile: int = TILE, overlap: int = OVERLAP,
                  on_tile=None) -> torch.Tensor:
    """IMAGE `[B,H,W,C]` upscaled by the model in tiles, clamped to 0..1; halves the tile on out-of-memory."""
    model.load(compute_device())
    pixels = _model_channels(image[..., :3].movedim(-1, 1).float(), model.in_channels)
    height, width = pixels.shape[-2:]
    # windowed-attention networks (SwinIR) pad to whole windows anyway; padding first and cutting tiles at
    # multiples of the window gives every tile the whole image's window grid (seams about 3× smaller)
    multiple = getattr(model.network, "tile_multiple", 1)
    pixels = pad_to_multiple(pixels, multiple)
    while True:
        try:
            out = tiled_upscale(model, pixels, model.scale, _round_to(tile, multiple), _round_to(overlap, multiple),
                                on_tile)
            break
        except torch.OutOfMemoryError:
            if tile // 2 < MIN_TILE:
                raise
            tile //= 2
    out = out[..., :height * model.scale, :width * model.scale].clamp(0, 1)
    return out.expand(-1, 3, -1, -1).movedim(1, -1) if out.shape[1] == 1 else out.movedim(1, -1)


LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what PIL's "L" conversion uses


def _model_channels(pixels: torch.Tensor, channels: int) -> torch.Tensor:
    """RGB `[B,3,H,W]` as the network takes it: unchanged, or one luminance channel for grayscale models."""
    if channels == 3:
        return pixels
    if channels == 1:
        return (pixels * torch.tensor(LUMA, dtype=pixels.dtype).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    raise ValueError(f"ImageUpscaleWithModel: the upscale model takes {channels}-channel pictures; only RGB (3) "
                     "and grayscale (1) models are supported")


def _round_to(size: int, multiple: int) -> int:
    return max(multiple, -(-size // multiple) * multiple)
