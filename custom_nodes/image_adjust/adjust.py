"""The pixel maths of the image adjustment nodes, on IMAGE tensors `[B,H,W,C]` with values in 0..1."""

import math

import torch

# Rec. 601 luma weights, the ones PIL and most editors use for "grayscale".
LUMA = (0.299, 0.587, 0.114)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """`[..., 3]` -> `[..., 1]` luma."""
    weights = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights).sum(dim=-1, keepdim=True)


def brightness(rgb: torch.Tensor, amount: float) -> torch.Tensor:
    """Add `amount` (-1..1) to every channel."""
    return rgb + amount


def contrast(rgb: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale the distance from each image's mean luma by `factor` (1 keeps the image, 0 gives flat grey)."""
    mean = luminance(rgb).mean(dim=(1, 2, 3), keepdim=True)
    return mean + (rgb - mean) * factor


def saturation(rgb: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale the distance from each pixel's luma by `factor` (0 gives greyscale)."""
    grey = luminance(rgb)
    return grey + (rgb - grey) * factor


def hue_rotate(rgb: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate colours around the grey axis by `degrees` (a rotation in RGB space that keeps greys grey)."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    third, root = (1 - cos) / 3, sin / math.sqrt(3)
    # Rodrigues' rotation about the unit vector (1,1,1)/sqrt(3).
    matrix = torch.tensor([[cos + third, third - root, third + root],
                           [third + root, cos + third, third - root],
                           [third - root, third + root, cos + third]], dtype=rgb.dtype, device=rgb.device)
    return rgb @ matrix.T


def gamma(rgb: torch.Tensor, value: float) -> torch.Tensor:
    """`x ** (1 / value)`: values above 1 brighten the mid-tones, below 1 darken them."""
    return rgb.clamp(0, 1) ** (1.0 / value)


def levels(rgb: torch.Tensor, black: float, white: float, mid_gamma: float, out_black: float,
           out_white: float) -> torch.Tensor:
    """Map `black..white` to `0..1`, apply `mid_gamma`, then map `0..1` to `out_black..out_white`."""
    stretched = ((rgb - black) / (white - black)).clamp(0, 1) ** (1.0 / mid_gamma)
    return out_black + stretched * (out_white - out_black)


def auto_contrast(rgb: torch.Tensor, cutoff_percent: float, per_channel: bool) -> torch.Tensor:
    """Stretch one image `[H,W,3]` so its `cutoff_percent` darkest and brightest pixels become 0 and 1."""
    flat = rgb.reshape(-1, rgb.shape[-1]) if per_channel else luminance(rgb).reshape(-1, 1)
    q = torch.tensor([cutoff_percent / 100, 1 - cutoff_percent / 100], dtype=flat.dtype, device=flat.device)
    low, high = torch.quantile(flat.float(), q, dim=0).to(rgb.dtype)
    span = (high - low).clamp_min(1e-6)
    return ((rgb - low) / span).clamp(0, 1)


def tint(rgb: torch.Tensor, color: tuple[float, float, float], strength: float) -> torch.Tensor:
    """Colourise: keep each pixel's luma, take the hue of `color`, blend by `strength` (0..1)."""
    target = torch.tensor(color, dtype=rgb.dtype, device=rgb.device)
    grey = luminance(rgb)
    coloured = grey * target / max(float(luminance(target[None])[0]), 1e-6)
    return rgb + (coloured.clamp(0, 1) - rgb) * strength


def apply_rgb(image: torch.Tensor, operation, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Run `operation` on the RGB channels of `image` (alpha kept), clamp, and blend by `mask` `[B,H,W]` if given."""
    rgb, rest = image[..., :3], image[..., 3:]
    result = operation(rgb).clamp(0, 1)
    if mask is not None:
        if mask.dim() == 2:
            mask = mask[None]
        if mask.shape[-2:] != rgb.shape[1:3] or mask.shape[0] not in (1, rgb.shape[0]):
            raise ValueError(f"mask is {tuple(mask.shape)} (B, H, W) but the image is {tuple(rgb.shape[:3])}; "
                             "the mask needs the image's height and width and a batch of 1 or the same size")
        weight = mask[..., None].to(rgb.dtype)
        result = rgb + (result - rgb) * weight
    return torch.cat([result, rest], dim=-1)
