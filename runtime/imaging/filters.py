"""Post-processing filters on IMAGE tensors `[B,H,W,C]`: blending, Gaussian blur and sharpening, palette
quantization and grey morphology (the formulas of ComfyUI's ImageBlend/Blur/Sharpen/Quantize/Morphology)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

def _soft_light_curve(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.25, ((16 * x - 12) * x + 4) * x, torch.sqrt(x))


def blend_layer(base: torch.Tensor, layer: torch.Tensor, mode: str) -> torch.Tensor:
    """The blend of `layer` over `base` in `mode`, before mixing with the blend factor."""
    if mode == "normal":
        return layer
    if mode == "multiply":
        return base * layer
    if mode == "screen":
        return 1 - (1 - base) * (1 - layer)
    if mode == "overlay":
        return torch.where(base <= 0.5, 2 * base * layer, 1 - 2 * (1 - base) * (1 - layer))
    if mode == "soft_light":
        return torch.where(layer <= 0.5, base - (1 - 2 * layer) * base * (1 - base),
                           base + (2 * layer - 1) * (_soft_light_curve(base) - base))
    if mode == "difference":
        return base - layer
    raise ValueError(f"unknown blend_mode {mode!r}")


def blend(image1: torch.Tensor, image2: torch.Tensor, factor: float, mode: str) -> torch.Tensor:
    """image1·(1−factor) + blend(image1, image2)·factor, clamped; image2 resized (bicubic, centre crop) to fit."""
    from runtime.imaging.compositing import match_channels
    from runtime.imaging.resample import upscale

    channels = max(image1.shape[-1], image2.shape[-1])
    image1, image2 = match_channels(image1, channels), match_channels(image2.to(image1.device), channels)
    if image1.shape != image2.shape:
        image2 = upscale(image2.movedim(-1, 1), image1.shape[2], image1.shape[1], "bicubic", "center").movedim(1, -1)
    out = (image1 * (1 - factor) + blend_layer(image1, image2, mode) * factor).clamp(0, 1)
    if channels == 4:  # alpha is coverage, not colour: keep image1's
        out[..., 3] = image1[..., 3]
    return out


def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    """A normalised size×size Gaussian sampled on [-1, 1]² (ComfyUI's kernel, so sigma is relative to the radius)."""
    axis = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    weights = torch.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    return weights / weights.sum()


def _filter(image: torch.Tensor, kernel: torch.Tensor, radius: int) -> torch.Tensor:
    """Convolve every channel of `[B,H,W,C]` with `kernel`, reflecting the image at its borders."""
    channels = image.shape[-1]
    weights = kernel.to(image).expand(channels, 1, *kernel.shape).contiguous()
    padded = F.pad(image.movedim(-1, 1), (radius,) * 4, mode="reflect")
    return F.conv2d(padded, weights, groups=channels).movedim(1, -1)


def blur(image: torch.Tensor, radius: int, sigma: float) -> torch.Tensor:
    """Gaussian blur with a (2·radius+1)² kernel."""
    if radius <= 0:
        return image
    return _filter(image, gaussian_kernel(2 * radius + 1, sigma), radius)


def sharpen(image: torch.Tensor, radius: int, sigma: float, alpha: float) -> torch.Tensor:
    """Unsharp kernel: −10·alpha·Gaussian with the centre raised so the weights sum to 1; clamped to 0..1."""
    if radius <= 0:
        return image
    kernel = gaussian_kernel(2 * radius + 1, sigma) * -(alpha * 10)
    kernel[radius, radius] += 1.0 - kernel.sum()
    return _filter(image, kernel, radius).clamp(0, 1)


def _bayer_matrix(level: int) -> np.ndarray:
    """The recursive ordered-dither matrix of side 2**level, centred on zero, values in (−0.5, 0.5)."""
    if level == 0:
        return np.zeros((1, 1), dtype=np.float32)
    scale = 4 ** level
    inner = scale * _bayer_matrix(level - 1)
    return np.block([[inner - 1.5, inner + 0.5], [inner + 1.5, inner - 0.5]]) / scale


def _bayer_dither(picture: Image.Image, palette: Image.Image, order: int) -> Image.Image:
    spread = 2 * 256 / (len(palette.getpalette()) // 3)
    pattern = spread * _bayer_matrix(int(math.log2(order))) + 0.5
    pixels = np.asarray(picture, dtype=np.float32)
    reps = (math.ceil(pixels.shape[0] / order), math.ceil(pixels.shape[1] / order))
    pixels = pixels + np.tile(pattern, reps)[:pixels.shape[0], :pixels.shape[1], None]
    dithered = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return dithered.quantize(palette=palette, dither=Image.Dither.NONE)


def quantize(image: torch.Tensor, colors: int, dither: str) -> torch.Tensor:
    """Reduce each image to a palette of `colors` (Pillow's median cut), optionally dithered; alpha is kept."""
    if dither not in ("none", "floyd-steinberg") and not dither.startswith("bayer-"):
        raise ValueError(f"unknown dither {dither!r}")
    rgb = image[..., :3]
    out = torch.zeros_like(rgb)
    for index, item in enumerate(rgb):
        picture = Image.fromarray((item * 255).to(torch.uint8).cpu().numpy(), mode="RGB")
        palette = picture.quantize(colors=colors)  # a palette image: quantize(palette=...) needs one
        if dither.startswith("bayer"):
            reduced = _bayer_dither(picture, palette, int(dither.split("-")[1]))
        else:
            method = Image.Dither.FLOYDSTEINBERG if dither == "floyd-steinberg" else Image.Dither.NONE
            reduced = picture.quantize(palette=palette, dither=method)
        out[index] = torch.from_numpy(np.asarray(reduced.convert("RGB"), dtype=np.float32) / 255)
    return torch.cat([out, image[..., 3:]], dim=-1) if image.shape[-1] == 4 else out


def _grey(images: torch.Tensor, size: int, grow: bool) -> torch.Tensor:
    """Flat size×size grey dilation (max) or erosion (min) of `[B,C,H,W]`; pixels outside the image are ignored."""
    before, after = size // 2, size - 1 - size // 2
    fill = float("-inf") if grow else float("inf")
    padded = F.pad(images, (before, after, before, after), value=fill)
    if grow:
        return F.max_pool2d(padded, size, stride=1)
    return -F.max_pool2d(-padded, size, stride=1)


def morphology(image: torch.Tensor, operation: str, kernel_size: int) -> torch.Tensor:
    """erode, dilate, open, close, gradient (dilate − erode), top_hat (x − open), bottom_hat (close − x)."""
    x = image.movedim(-1, 1).float()
    erode, dilate = (lambda t: _grey(t, kernel_size, False)), (lambda t: _grey(t, kernel_size, True))
    operations = {"erode": lambda: erode(x), "dilate": lambda: dilate(x), "open": lambda: dilate(erode(x)),
                  "close": lambda: erode(dilate(x)), "gradient": lambda: dilate(x) - erode(x),
                  "top_hat": lambda: x - dilate(erode(x)), "bottom_hat": lambda: erode(dilate(x)) - x}
    if operation not in operations:
        raise ValueError(f"unknown operation {operation!r}; expected one of {sorted(operations)}")
    return operations[operation]().movedim(1, -1).to(image.dtype)
