"""VAE: a diffusers `AutoencoderKL` between IMAGE `[B,H,W,C]` 0..1 and raw (unscaled) latents, plain or tiled;
built from original-layout or diffusers weights with its config read from tensor shapes."""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from runtime.devices import DeviceResident
from runtime.vae.keys import diffusers_vae_to_original, is_attention_projection, is_diffusers_vae, vae_key_map
from runtime.weights.files import ModelFileError
from runtime.weights.meta import assign_weights, on_meta
from runtime.weights.shapes import indices, shapes_of

NORM_GROUPS = 32


class NotAutoencoderKL(ValueError):
    """The weights lack the blocks of an `AutoencoderKL`."""


def vae_norm_groups(first_channels: int) -> int:
    """GroupNorm groups of a VAE, which no tensor shape records: 32, as every published VAE has, wherever 32
    divides the width; narrower VAEs (the shipped toy model's 16 channels) keep 4 channels per group."""
    if first_channels % NORM_GROUPS == 0:
        return NORM_GROUPS
    return max(1, first_channels // 4)


def vae_config_from_shapes(shapes: dict, prefix: str) -> dict:
    """A diffusers `AutoencoderKL` config for original-layout VAE keys starting with `prefix`."""
    p = prefix
    levels = indices(shapes, re.escape(p) + r"encoder\.down\.(\d+)\.")
    if not levels or p + "encoder.conv_in.weight" not in shapes:
        raise NotAutoencoderKL("no VAE encoder (encoder.conv_in / encoder.down.N) found")
    channels = [shapes[f"{p}encoder.down.{i}.block.0.conv1.weight"][0] for i in levels]
    layers = len(indices(shapes, re.escape(p) + r"encoder\.down\.0\.block\.(\d+)\."))
    return {
        "in_channels": shapes[p + "encoder.conv_in.weight"][1],
        "out_channels": shapes[p + "decoder.conv_out.weight"][0],
        "down_block_types": ["DownEncoderBlock2D"] * len(levels), "up_block_types": ["UpDecoderBlock2D"] * len(levels),
        "block_out_channels": channels, "layers_per_block": layers,
        "latent_channels": shapes[p + "decoder.conv_in.weight"][1], "norm_num_groups": vae_norm_groups(channels[0]),
        "sample_size": 512, "use_quant_conv": p + "quant_conv.weight" in shapes,
        "use_post_quant_conv": p + "post_quant_conv.weight" in shapes,
    }


def build_vae(original: dict, dtype: torch.dtype, what: str) -> "VAE":
    """A VAE from original-layout tensors (keys without `first_stage_model.`; diffusers names are converted)."""
    from diffusers import AutoencoderKL

    if is_diffusers_vae(original):
        original = diffusers_vae_to_original(original)
    try:
        config = vae_config_from_shapes(shapes_of(original), "")
    except (NotAutoencoderKL, KeyError) as error:
        raise ModelFileError(f"{what}: not a VAE ({error}); expected AutoencoderKL weights") from error
    autoencoder = on_meta(lambda: AutoencoderKL(**config))
    mapping = vae_key_map(config, autoencoder.state_dict().keys())
    expected = autoencoder.state_dict()
    weights = {}
    for key, value in original.items():
        target = mapping.get(key, key)
        if is_attention_projection(target) and target in expected and value.dim() != expected[target].dim():
            value = value.reshape(expected[target].shape)  # 1×1 conv ↔ linear
        weights[target] = value
    return VAE(assign_weights(autoencoder, weights, dtype=dtype, what=what))


class VAE(DeviceResident):
    def __init__(self, autoencoder):
        self.autoencoder = autoencoder
        self.downscale_ratio = 2 ** (len(autoencoder.config.block_out_channels) - 1)
        self.latent_channels = autoencoder.config.latent_channels

    def __repr__(self) -> str:
        return f"VAE(latent_channels={self.latent_channels}, downscale_ratio={self.downscale_ratio})"

    def _networks(self):
        return [self.autoencoder]

    def _ready(self):
        if self.device.type == "cpu":
            self.load()
        return self.device, self.dtype

    @torch.no_grad()
    def _encode_nchw(self, pixels: torch.Tensor) -> torch.Tensor:
        device, dtype = self.device, self.dtype
        posterior = self.autoencoder.encode(pixels.to(device, dtype) * 2.0 - 1.0).latent_dist
        return posterior.mode().float().cpu()  # the posterior mean, as ComfyUI encodes

    @torch.no_grad()
    def _decode_nchw(self, latent: torch.Tensor) -> torch.Tensor:
        device, dtype = self.device, self.dtype
        image = self.autoencoder.decode(latent.to(device, dtype)).sample
        return ((image.float() + 1.0) / 2.0).clamp(0.0, 1.0).cpu()

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """IMAGE `[B,H,W,3]` → raw latent `[B,C,H/r,W/r]`."""
        self._ready()
        return self._encode_nchw(image[..., :3].movedim(-1, 1))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Raw latent → IMAGE `[B,H,W,3]` float32 0..1."""
        self._ready()
        return self._decode_nchw(latent).movedim(1, -1)

    def encode_tiled(self, image: torch.Tensor, tile_x: int = 512, tile_y: int = 512, overlap: int = 64):
        """Encode in overlapping pixel tiles (sizes in pixels), blended with linear ramps in the overlaps."""
        self._ready()
        pixels = image[..., :3].movedim(-1, 1)
        r = self.downscale_ratio
        return tiled(self._encode_nchw, pixels, tile_y, tile_x, overlap, 1 / r, self.latent_channels, align=r)

    def decode_tiled(self, latent: torch.Tensor, tile_x: int = 64, tile_y: int = 64, overlap: int = 16):
        """Decode in overlapping latent tiles (sizes in latent cells), blended with linear ramps in the overlaps."""
        self._ready()
        channels = self.autoencoder.config.out_channels
        out = tiled(self._decode_nchw, latent, tile_y, tile_x, overlap, self.downscale_ratio, channels, align=1)
        return out.movedim(1, -1)


def _starts(size: int, tile: int, overlap: int, align: int) -> list[int]:
    if size <= tile:
        return [0]
    stride = max(align, (tile - overlap) // align * align)
    starts = list(range(0, size - tile, stride)) + [size - tile]
    return sorted(set(s // align * align for s in starts))


def _ramp(length: int, fade_in: int, fade_out: int) -> torch.Tensor:
    weight = torch.ones(length)
    if fade_in:
        weight[:fade_in] = torch.linspace(1 / (fade_in + 1), fade_in / (fade_in + 1), fade_in)
    if fade_out:
        weight[length - fade_out:] = torch.linspace(fade_out / (fade_out + 1), 1 / (fade_out + 1), fade_out)
    return weight


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile_h: int, tile_w: int, overlap: int,
          scale: float, out_channels: int, align: int) -> torch.Tensor:
    """Apply a resolution-changing `fn` to overlapping tiles of `x` (NCHW) and blend the results."""
    batch, _, height, width = x.shape
    tile_h, tile_w = min(tile_h, height), min(tile_w, width)
    overlap = max(0, min(overlap, tile_h // 2, tile_w // 2))
    out_h, out_w = round(height * scale), round(width * scale)
    out = torch.zeros(batch, out_channels, out_h, out_w)
    weights = torch.zeros(1, 1, out_h, out_w)
    ys, xs = _starts(height, tile_h, overlap, align), _starts(width, tile_w, overlap, align)
    for y in ys:
        for x0 in xs:
            piece = fn(x[:, :, y:y + tile_h, x0:x0 + tile_w])
            oy, ox = round(y * scale), round(x0 * scale)
            ph, pw = piece.shape[-2:]
            fade = round(overlap * scale)
            wy = _ramp(ph, fade if y > 0 else 0, fade if y + tile_h < height else 0)
            wx = _ramp(pw, fade if x0 > 0 else 0, fade if x0 + tile_w < width else 0)
            mask = (wy[:, None] * wx[None, :])[None, None]
            out[:, :, oy:oy + ph, ox:ox + pw] += piece * mask
            weights[:, :, oy:oy + ph, ox:ox + pw] += mask
    return out / weights.clamp_min(1e-8)
