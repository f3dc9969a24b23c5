"""SwinIR (Liang et al. 2021, arXiv:2108.10257) super-resolution networks, built from their state dict.

Covers the official key layout for classical (`pixelshuffle`), lightweight (`pixelshuffledirect`), real-world
(`nearest+conv`) SR and the ×1 restoration variant, with `1conv` or `3conv` residual connections. The input is
reflect-padded to a multiple of the window size, so any image or tile size works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from runtime.weights.files import ModelFileError

# The training set's RGB mean, subtracted from 3-channel inputs by every released SwinIR
RGB_MEAN = (0.4488, 0.4371, 0.4040)
DERIVED_BUFFERS = re.compile(r".*\.attn\.relative_position_index|.*\.attn_mask")


@dataclass(frozen=True)
class SwinIRConfig:
    """Hyper-parameters of one SwinIR network; every field but `img_range` is read off the state dict."""

    in_channels: int
    embed_dim: int
    depths: tuple[int, ...]
    heads: tuple[int, ...]
    window: int
    mlp_hidden: int
    scale: int
    upsampler: str  # "pixelshuffle", "pixelshuffledirect", "nearest+conv" or "" (×1 restoration)
    residual_convs: str  # "1conv" or "3conv"
    patch_norm: bool
    features: int = 64  # channels of the upsampling head (pixelshuffle and nearest+conv)
    img_range: float = 1.0  # not stored in files; every released model uses 1.0


@lru_cache(maxsize=8)
def relative_position_index(window: int) -> torch.Tensor:
    """`[window², window²]` index into the `(2·window−1)²`-row bias table for each (query, key) pair."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()])  # [2, N]
    delta = (coords[:, :, None] - coords[:, None, :]) + (window - 1)  # [2, N, N], each in 0..2·window−2
    return delta[0] * (2 * window - 1) + delta[1]


def to_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """`[B,H,W,C]` → `[B·windows, window², C]`."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).transpose(2, 3)
    return x.reshape(-1, window * window, c)


def from_windows(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of `to_windows`."""
    c = windows.shape[-1]
    x = windows.view(-1, height // window, width // window, window, window, c).transpose(2, 3)
    return x.reshape(-1, height, width, c)


@lru_cache(maxsize=16)
def shifted_window_mask(height: int, width: int, window: int, shift: int) -> torch.Tensor:
    """`[windows, N, N]` additive mask (0 / −100) keeping attention inside the regions that the cyclic shift
    brought together from opposite image borders."""
    region = torch.zeros(1, height, width, 1)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, rows in enumerate(bands):
        for j, cols in enumerate(bands):
            region[:, rows, cols, :] = i * 3 + j
    labels = to_windows(region, window).squeeze(-1)  # [windows, N]
    different = labels[:, None, :] != labels[:, :, None]
    return torch.zeros(different.shape).masked_fill(different, -100.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, plus a learned relative-position bias per head."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.empty((2 * window - 1) ** 2, heads))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        windows, n, c = x.shape
        q, k, v = self.qkv(x).view(windows, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        index = relative_position_index(self.window).to(x.device)
        bias = self.relative_position_bias_table[index.flatten()].view(n, n, -1).permute(2, 0, 1)
        bias = bias.unsqueeze(0)  # [1, heads, N, N]
        if mask is not None:  # one mask per window position, shared by the batch: split windows by image
            bias = bias + mask.to(x)[:, None]  # [windows per image, heads, N, N]
            q, k, v = (t.view(-1, mask.shape[0], *t.shape[1:]) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.reshape(windows, self.heads, n, -1).transpose(1, 2).reshape(windows, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    """Pre-norm transformer block over (shifted) windows; odd blocks shift by half a window."""

    def __init__(self, dim: int, heads: int, window: int, hidden: int, shifted: bool):
        super().__init__()
        self.window, self.shift = window, window // 2 if shifted else 0
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        (height, width), s = size, self.shift
        b, _, c = x.shape
        h = self.norm1(x).view(b, height, width, c)
        mask = None
        if s:
            h = torch.roll(h, (-s, -s), (1, 2))
            mask = shifted_window_mask(height, width, self.window, s)
        h = self.attn(to_windows(h, self.window), mask)
        h = from_windows(h, self.window, height, width)
        if s:
            h = torch.roll(h, (s, s), (1, 2))
        x = x + h.reshape(b, height * width, c)
        return x + self.mlp(self.norm2(x))


def conv_stack(dim: int, kind: str) -> nn.Module:
    """The conv closing each residual group and the body: one 3×3, or 3×3 → 1×1 → 3×3 at a quarter width."""
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, padding=1)
    return nn.Sequential(nn.Conv2d(dim, dim // 4, 3, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2d(dim // 4, dim // 4, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(dim // 4, dim, 3, padding=1))


class ResidualGroup(nn.Module):
    """RSTB: a run of Swin blocks, a conv on the re-assembled feature map, and a skip connection."""

    def __init__(self, config: SwinIRConfig, depth: int, heads: int):
        super().__init__()
        self.residual_group = nn.Module()
        self.residual_group.blocks = nn.ModuleList(
            SwinBlock(config.embed_dim, heads, config.window, config.mlp_hidden, shifted=i % 2 == 1)
            for i in range(depth))
        self.conv = conv_stack(config.embed_dim, config.residual_convs)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        h = x
        for block in self.residual_group.blocks:
            h = block(h, size)
        return x + tokens(self.conv(feature_map(h, size)))


def tokens(x: torch.Tensor) -> torch.Tensor:
    """`[B,C,H,W]` → `[B,H·W,C]`."""
    return x.flatten(2).transpose(1, 2)


def feature_map(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """`[B,H·W,C]` → `[B,C,H,W]`."""
    return x.transpose(1, 2).reshape(x.shape[0], -1, *size)


class SwinIR(nn.Module):
    """Shallow conv → residual Swin groups → reconstruction head chosen by `config.upsampler`."""

    def __init__(self, config: SwinIRConfig):
        super().__init__()
        self.config, self.scale = config, config.scale
        self.tile_multiple = config.window  # tiles cut on the window grid see the whole image's windows
        dim, features, channels = config.embed_dim, config.features, config.in_channels
        self.conv_first = nn.Conv2d(channels, dim, 3, padding=1)
        if config.patch_norm:
            self.patch_embed = nn.Module()
            self.patch_embed.norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(ResidualGroup(config, d, h) for d, h in zip(config.depths, config.heads))
        self.norm = nn.LayerNorm(dim)
        self.conv_after_body = conv_stack(dim, config.residual_convs)
        if config.upsampler in ("pixelshuffle", "nearest+conv"):
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(dim, features, 3, padding=1), nn.LeakyReLU(0.2))
        if config.upsampler == "pixelshuffle":
            self.upsample = nn.Sequential(*pixel_shuffle_stages(features, config.scale))
            self.conv_last = nn.Conv2d(features, channels, 3, padding=1)
        elif config.upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(dim, channels * config.scale ** 2, 3, padding=1),
                                          nn.PixelShuffle(config.scale))
        elif config.upsampler == "nearest+conv":
            self.conv_up1 = nn.Conv2d(features, features, 3, padding=1)
            if config.scale == 4:
                self.conv_up2 = nn.Conv2d(features, features, 3, padding=1)
            self.conv_hr = nn.Conv2d(features, features, 3, padding=1)
            self.conv_last = nn.Conv2d(features, channels, 3, padding=1)
        else:
            self.conv_last = nn.Conv2d(dim, channels, 3, padding=1)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        h = tokens(x)
        if self.config.patch_norm:
            h = self.patch_embed.norm(h)
        for layer in self.layers:
            h = layer(h, size)
        return self.conv_after_body(feature_map(self.norm(h), size)) + x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        upsampler = self.config.upsampler
        if upsampler == "pixelshuffle":
            return self.conv_last(self.upsample(self.conv_before_upsample(x)))
        if upsampler == "pixelshuffledirect":
            return self.upsample(x)
        if upsampler == "nearest+conv":
            h = self.conv_before_upsample(x)
            for conv in [self.conv_up1] + ([self.conv_up2] if self.config.scale == 4 else []):
                h = F.leaky_relu(conv(F.interpolate(h, scale_factor=2, mode="nearest")), 0.2)
            return self.conv_last(F.leaky_relu(self.conv_hr(h), 0.2))
        return self.conv_last(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        x = pad_to_multiple(x, self.config.window)
        mean = torch.tensor(RGB_MEAN if x.shape[1] == 3 else (0.0,) * x.shape[1]).to(x).view(1, -1, 1, 1)
        normalised = (x - mean) * self.config.img_range
        out = self.head(self.body(self.conv_first(normalised)))
        if not self.config.upsampler:  # ×1 restoration predicts a residual on the input
            out = out + normalised
        out = out / self.config.img_range + mean
        return out[..., :height * self.scale, :width * self.scale]


def pixel_shuffle_stages(features: int, scale: int) -> list[nn.Module]:
    """conv ×4 channels + shuffle by 2, once per factor of 2 (×2, ×4, ×8); ×3 is one conv ×9 + shuffle by 3."""
    if scale == 3:
        return [nn.Conv2d(features, features * 9, 3, padding=1), nn.PixelShuffle(3)]
    stages = []
    for _ in range(scale.bit_length() - 1):
        stages += [nn.Conv2d(features, features * 4, 3, padding=1), nn.PixelShuffle(2)]
    return stages


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad bottom/right to a multiple (replicate where the image is too small to reflect)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not pad_h and not pad_w:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


# keys of SwinIR's relatives, which share its block names but not its network
RELATIVES = re.compile(r"relative_position_index_SA|.*\.(overlap_attn|conv_block|cpb_mlp)\..*|.*\.logit_scale")


def is_swinir(state: dict[str, torch.Tensor]) -> bool:
    return ("conv_first.weight" in state and "layers.0.residual_group.blocks.0.attn.qkv.weight" in state
            and not any(RELATIVES.fullmatch(key) for key in state))


def _count(state: dict, pattern: str) -> int:
    """How many distinct values the `(\\d+)` in `pattern` takes among the keys."""
    return len({m.group(1) for key in state if (m := re.fullmatch(pattern, key))})


def swinir_config(state: dict[str, torch.Tensor], what: str) -> SwinIRConfig:
    """Read the hyper-parameters off the key layout and tensor shapes."""
    if "absolute_pos_embed" in state:
        raise ModelFileError(f"{what}: SwinIR with an absolute position embedding is tied to its training size "
                             "and is not supported")
    first = state["conv_first.weight"]
    layers = _count(state, r"layers\.(\d+)\.residual_group\.blocks\.0\.norm1\.weight")
    depths = tuple(_count(state, rf"layers\.{i}\.residual_group\.blocks\.(\d+)\.norm1\.weight") for i in range(layers))
    tables = [state[f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table"] for i in range(layers)]
    window = (round(tables[0].shape[0] ** 0.5) + 1) // 2
    if "upsample.0.weight" in state and "conv_before_upsample.0.weight" in state:
        upsampler, upsample = "pixelshuffle", state["upsample.0.weight"]
        features = upsample.shape[1]
        scale = 3 if upsample.shape[0] == 9 * features else 2 ** _count(state, r"upsample\.(\d+)\.weight")
    elif "upsample.0.weight" in state:
        upsampler = "pixelshuffledirect"
        features, scale = 64, round((state["upsample.0.weight"].shape[0] / first.shape[1]) ** 0.5)
    elif "conv_up1.weight" in state:
        upsampler, features = "nearest+conv", state["conv_up1.weight"].shape[0]
        scale = 4 if "conv_up2.weight" in state else 2
    else:
        upsampler, features, scale = "", 64, 1
    return SwinIRConfig(
        in_channels=first.shape[1], embed_dim=first.shape[0], depths=depths,
        heads=tuple(t.shape[1] for t in tables), window=window,
        mlp_hidden=state["layers.0.residual_group.blocks.0.mlp.fc1.weight"].shape[0], scale=scale,
        upsampler=upsampler, residual_convs="3conv" if "conv_after_body.0.weight" in state else "1conv",
        patch_norm="patch_embed.norm.weight" in state, features=features)


def swinir_from_state_dict(state: dict[str, torch.Tensor], what: str) -> tuple[SwinIR, dict[str, torch.Tensor]]:
    """(network on the meta device, its weights); buffers the files carry but we derive are dropped."""
    config = swinir_config(state, what)
    with torch.device("meta"):
        network = SwinIR(config)
    return network, {k: v for k, v in state.items() if not DERIVED_BUFFERS.fullmatch(k)}
