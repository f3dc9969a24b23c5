"""Pasting one `[B,C,H,W]` tensor into another through a mask, and padding images for outpainting."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from runtime.imaging.resample import repeat_to_batch


def mask_as_batch(mask: torch.Tensor) -> torch.Tensor:
    """Any `[H,W]`, `[B,H,W]` or `[B,1,H,W]` mask as `[B,1,H,W]`."""
    return mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1])


def composite(destination: torch.Tensor, source: torch.Tensor, x: int, y: int, mask: torch.Tensor | None = None,
              multiplier: int = 1, resize_source: bool = False) -> torch.Tensor:
    """Blend `source` into a copy of `destination` with its top-left corner at (x, y) // multiplier.

    multiplier is 8 for latents (x, y are pixels) and 1 for images. The mask (1 = source) is resized to the source;
    parts of the source outside the destination are dropped.
    """
    out = destination.clone()
    source = source.to(out.device, out.dtype)
    if resize_source:
        source = F.interpolate(source, size=out.shape[-2:], mode="bilinear")
    source = repeat_to_batch(source, out.shape[0])
    left, top = max(0, x // multiplier), max(0, y // multiplier)
    visible_w, visible_h = out.shape[-1] - left, out.shape[-2] - top
    if visible_w <= 0 or visible_h <= 0:
        return out
    if mask is None:
        weight = torch.ones_like(source[:, :1])
    else:
        weight = F.interpolate(mask_as_batch(mask).to(out.device, out.dtype), size=source.shape[-2:],
                               mode="bilinear")
        weight = repeat_to_batch(weight, source.shape[0])
    source, weight = source[..., :visible_h, :visible_w], weight[..., :visible_h, :visible_w]
    region = out[..., top:top + source.shape[-2], left:left + source.shape[-1]]
    region.copy_(source * weight + region * (1.0 - weight))
    return out


def match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Drop extra channels of a `[B,H,W,C]` image or pad missing ones (alpha) with 1."""
    if image.shape[-1] > channels:
        return image[..., :channels]
    if image.shape[-1] < channels:
        return F.pad(image, (0, channels - image.shape[-1]), value=1.0)
    return image


def pad_for_outpaint(image: torch.Tensor, left: int, top: int, right: int, bottom: int,
                     feathering: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Grow a `[B,H,W,C]` image with grey (0.5) borders; the mask is 1 on the new area.

    Inside the original picture, pixels closer than `feathering` to a padded edge get mask ((f - d) / f)^2, so
    the sampler blends into the old content instead of leaving a seam.
    """
    batch, height, width, channels = image.shape
    out = torch.full((batch, height + top + bottom, width + left + right, channels), 0.5, dtype=image.dtype,
                     device=image.device)
    out[:, top:top + height, left:left + width, :] = image
    mask = torch.ones(out.shape[1:3], dtype=torch.float32, device=image.device)
    inner = torch.zeros((height, width), dtype=torch.float32, device=image.device)
    if feathering > 0 and feathering * 2 < height and feathering * 2 < width:
        rows = torch.arange(height, device=image.device).reshape(-1, 1).expand(height, width)
        cols = torch.arange(width, device=image.device).reshape(1, -1).expand(height, width)
        # Distance to each edge that was padded; an unpadded edge never feathers (counts as far away).
        distances = [rows if top else torch.full_like(rows, height),
                     height - rows if bottom else torch.full_like(rows, height),
                     cols if left else torch.full_like(cols, width),
                     width - cols if right else torch.full_like(cols, width)]
        nearest = torch.stack(distances).amin(0).float()
        ramp = ((feathering - nearest) / feathering) ** 2
        inner = torch.where(nearest < feathering, ramp, inner)
    mask[top:top + height, left:left + width] = inner
    return out, mask.unsqueeze(0)
