"""Mask arithmetic: grey dilation/erosion, edge feathering and the MaskComposite operations."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from runtime.imaging import MASK_OPERATIONS


def as_mask_stack(mask: torch.Tensor) -> torch.Tensor:
    """Any `[H,W]`, `[B,H,W]` or `[B,1,H,W]` mask as `[B,H,W]`."""
    return mask.reshape(-1, mask.shape[-2], mask.shape[-1])


def _grey_step(masks: torch.Tensor, tapered_corners: bool, grow: bool) -> torch.Tensor:
    """One 3×3 grey dilation (max) or erosion (min) with a cross (tapered) or full square footprint."""
    padded = F.pad(masks.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
    height, width = masks.shape[-2:]
    offsets = [(dy, dx) for dy in range(3) for dx in range(3)
               if not (tapered_corners and dy != 1 and dx != 1)]
    shifted = torch.stack([padded[:, dy:dy + height, dx:dx + width] for dy, dx in offsets])
    return shifted.amax(0) if grow else shifted.amin(0)


def grow_mask(mask: torch.Tensor, expand: int, tapered_corners: bool) -> torch.Tensor:
    """Dilate `expand` times (erode when negative); edges repeat outward as with a reflecting border."""
    out = as_mask_stack(mask).float()
    for _ in range(abs(expand)):
        out = _grey_step(out, tapered_corners, grow=expand > 0)
    return out


def feather_mask(mask: torch.Tensor, left: int, top: int, right: int, bottom: int) -> torch.Tensor:
    """Multiply the outermost pixels by linear ramps: the edge row/column by 1/n, the n-th one in by n/n."""
    out = as_mask_stack(mask).clone()
    height, width = out.shape[-2:]

    def ramp(count: int, length: int) -> torch.Tensor:
        count = min(count, length)
        weights = torch.ones(length, dtype=out.dtype, device=out.device)
        if count:
            weights[:count] = torch.arange(1, count + 1, dtype=out.dtype, device=out.device) / count
        return weights

    horizontal = ramp(left, width) * ramp(right, width).flip(0)
    vertical = ramp(top, height) * ramp(bottom, height).flip(0)
    return out * vertical.reshape(-1, 1) * horizontal.reshape(1, -1)


def combine_masks(destination: torch.Tensor, source: torch.Tensor, x: int, y: int, operation: str) -> torch.Tensor:
    """Combine `source` into `destination` in the window at (x, y); logical operations work on rounded values."""
    out = as_mask_stack(destination).clone()
    source = as_mask_stack(source).to(out.device, out.dtype)
    bottom, right = min(y + source.shape[-2], out.shape[-2]), min(x + source.shape[-1], out.shape[-1])
    if bottom > y and right > x:
        dst = out[:, y:bottom, x:right]
        src = source[:, :bottom - y, :right - x]
        if operation in ("and", "or", "xor"):
            logical = {"and": torch.logical_and, "or": torch.logical_or, "xor": torch.logical_xor}[operation]
            combined = logical(dst.round().bool(), src.round().bool()).to(out.dtype)
        elif operation == "multiply":
            combined = dst * src
        elif operation == "add":
            combined = dst + src
        elif operation == "subtract":
            combined = dst - src
        else:
            raise ValueError(f"unknown operation {operation!r}; expected one of {MASK_OPERATIONS}")
        out[:, y:bottom, x:right] = combined
    return out.clamp(0.0, 1.0)
