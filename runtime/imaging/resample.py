"""Resizing `[B,C,H,W]` tensors with ComfyUI's upscale methods (nearest-exact, bilinear, area, bicubic, bislerp,
lanczos) and its optional centre crop to the target aspect ratio."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_TORCH_MODES = {"nearest-exact", "bilinear", "area", "bicubic"}


def center_crop_to_aspect(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Cut equal margins off the longer side so the aspect ratio becomes width:height."""
    old_h, old_w = samples.shape[-2], samples.shape[-1]
    old_aspect, new_aspect = old_w / old_h, width / height
    x = y = 0
    if old_aspect > new_aspect:
        x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
    elif old_aspect < new_aspect:
        y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
    return samples[..., y:old_h - y, x:old_w - x]


def upscale(samples: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled") -> torch.Tensor:
    """Resize `[B,C,H,W]` to `[B,C,height,width]`; `crop="center"` first crops to the new aspect ratio."""
    if width < 1 or height < 1:
        raise ValueError(f"cannot resize to {width}x{height}: both sides must be at least 1")
    if crop == "center":
        samples = center_crop_to_aspect(samples, width, height)
    elif crop != "disabled":
        raise ValueError(f"unknown crop {crop!r}; expected 'disabled' or 'center'")
    if method == "bislerp":
        return bislerp(samples, width, height)
    if method == "lanczos":
        return lanczos(samples, width, height)
    if method not in _TORCH_MODES:
        raise ValueError(f"unknown upscale_method {method!r}")
    original_dtype = samples.dtype
    # Half-precision interpolation is missing on some CPU kernels; resize in float32.
    resized = F.interpolate(samples.float(), size=(height, width), mode=method)
    return resized.to(original_dtype)


def lanczos(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Pillow's Lanczos filter on each image, through 8-bit pixels as ComfyUI does."""
    import numpy as np
    from PIL import Image

    channels = samples.shape[1]
    if channels not in (1, 3, 4):
        raise ValueError(f"lanczos resizes images with 1, 3 or 4 channels, got {channels}")
    out = []
    for item in samples:
        pixels = np.clip(255.0 * item.movedim(0, -1).float().cpu().numpy(), 0, 255).astype(np.uint8)
        picture = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
        resized = np.asarray(picture.resize((width, height), resample=Image.Resampling.LANCZOS), dtype=np.float32)
        resized = torch.from_numpy(resized / 255.0)
        out.append(resized.unsqueeze(0) if channels == 1 else resized.movedim(-1, 0))
    return torch.stack(out).to(device=samples.device, dtype=samples.dtype)


def _neighbours(length_old: int, length_new: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each new position: left source index, right source index, and the fraction between them.

    Positions come from bilinearly resizing the index ramp itself, so they round exactly like torch's bilinear.
    """
    ramp = torch.arange(length_old, dtype=torch.float32, device=device).reshape(1, 1, 1, -1)
    position = F.interpolate(ramp, size=(1, length_new), mode="bilinear").reshape(-1)
    left = position.to(torch.int64)
    right = torch.clamp(left + 1, max=length_old - 1)
    return left, right, (position - position.floor())


def _slerp(a: torch.Tensor, b: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of rows of `a` and `b` ([N,C]) with the norms interpolated linearly."""
    norm_a = torch.linalg.vector_norm(a, dim=-1, keepdim=True)
    norm_b = torch.linalg.vector_norm(b, dim=-1, keepdim=True)
    unit_a = torch.where(norm_a == 0, torch.zeros_like(a), a / norm_a)
    unit_b = torch.where(norm_b == 0, torch.zeros_like(b), b / norm_b)
    dot = (unit_a * unit_b).sum(-1, keepdim=True)
    omega = torch.acos(dot)
    sin_omega = torch.sin(omega)
    mixed = (torch.sin((1.0 - ratio) * omega) / sin_omega) * unit_a + (torch.sin(ratio * omega) / sin_omega) * unit_b
    mixed = mixed * (norm_a * (1.0 - ratio) + norm_b * ratio)
    # Nearly parallel vectors keep `a`; nearly opposite ones fall back to a straight line.
    mixed = torch.where(dot > 1 - 1e-5, a, mixed)
    return torch.where(dot < 1e-5 - 1, a * (1.0 - ratio) + b * ratio, mixed)


def _bislerp_last_axis(samples: torch.Tensor, length_new: int) -> torch.Tensor:
    """Slerp along the last axis of `[B,C,H,W]`, treating each pixel's channel vector as one point."""
    batch, channels, rows, length_old = samples.shape
    left, right, ratio = _neighbours(length_old, length_new, samples.device)
    a = samples[..., left].movedim(1, -1).reshape(-1, channels)
    b = samples[..., right].movedim(1, -1).reshape(-1, channels)
    ratio = ratio.reshape(1, 1, -1).expand(batch, rows, -1).reshape(-1, 1)
    return _slerp(a, b, ratio).reshape(batch, rows, length_new, channels).movedim(-1, 1)


def bislerp(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Bilinear resize where each 1-D interpolation is a slerp of channel vectors (keeps latent norms)."""
    original_dtype = samples.dtype
    out = _bislerp_last_axis(samples.float(), width)
    out = _bislerp_last_axis(out.transpose(-1, -2), height).transpose(-1, -2)
    return out.contiguous().to(original_dtype)


def repeat_to_batch(tensor: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut or cycle a batch to exactly `batch_size` items."""
    if tensor.shape[0] > batch_size:
        return tensor[:batch_size]
    if tensor.shape[0] < batch_size:
        repeats = -(-batch_size // tensor.shape[0])
        return tensor.repeat([repeats] + [1] * (tensor.dim() - 1))[:batch_size]
    return tensor
