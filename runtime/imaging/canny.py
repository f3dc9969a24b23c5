"""Canny edge detection in torch (Canny 1986): blur, Sobel gradients, non-maximum suppression, hysteresis."""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAUSSIAN_SIZE, GAUSSIAN_SIGMA = 5, 1.0
# neighbour offsets (dy, dx) along the gradient for directions 0°, 45°, 90°, 135°
DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1))


def _filter(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    pad = kernel.shape[-1] // 2
    return F.conv2d(F.pad(x, (pad,) * 4, mode="replicate"), kernel[None, None].to(x))


def _gaussian_blur(x: torch.Tensor) -> torch.Tensor:
    steps = torch.arange(GAUSSIAN_SIZE, dtype=torch.float32) - GAUSSIAN_SIZE // 2
    line = torch.exp(-(steps ** 2) / (2 * GAUSSIAN_SIGMA ** 2))
    line = line / line.sum()
    return _filter(x, line[:, None] * line[None, :])


def _shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x[y + dy, x + dx], zero outside."""
    padded = F.pad(x, (1, 1, 1, 1))
    h, w = x.shape[-2:]
    return padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]


def canny(image: torch.Tensor, low_threshold: float, high_threshold: float) -> torch.Tensor:
    """Edges (0 or 1) `[B, 1, H, W]` of `[B, C, H, W]` pictures in 0..1; thresholds on the normalised gradient."""
    gray = image[:, :1] if image.shape[1] == 1 else (
        0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3])
    gray = _gaussian_blur(gray.float())
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    gx, gy = _filter(gray, sobel), _filter(gray, sobel.t())
    magnitude = torch.sqrt(gx * gx + gy * gy + 1e-6)
    # gradient direction folded to [0°, 180°) and rounded to the nearest of the four directions
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180
    direction = torch.round(angle / 45).long() % 4
    keep = torch.zeros_like(magnitude, dtype=torch.bool)
    for index, (dy, dx) in enumerate(DIRECTIONS):
        peak = (magnitude >= _shifted(magnitude, dy, dx)) & (magnitude >= _shifted(magnitude, -dy, -dx))
        keep |= (direction == index) & peak
    magnitude = magnitude * keep
    strong = magnitude > high_threshold
    weak = magnitude > low_threshold
    edges = strong
    while True:  # hysteresis: weak pixels joined (8-connected) to an edge become edges
        grown = weak & (F.max_pool2d(edges.float(), 3, stride=1, padding=1) > 0)
        if torch.equal(grown, edges):
            return edges.float()
        edges = grown
