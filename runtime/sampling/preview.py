"""Live previews during sampling: the predicted clean latent mapped to RGB by a fixed linear approximation (§7.8)."""

from __future__ import annotations

import torch

from executor import progress

DISABLED = ("none",)


def latent_to_rgb(latent_format, x0: torch.Tensor):
    """First image of a UNet-space latent batch → PIL RGB image at latent resolution, or None without factors."""
    from PIL import Image

    if latent_format.rgb_factors is None:
        return None
    factors = torch.tensor(latent_format.rgb_factors, dtype=torch.float32).T  # [3, C]
    bias = torch.tensor(latent_format.rgb_bias, dtype=torch.float32) if latent_format.rgb_bias else None
    rgb = torch.nn.functional.linear(x0[0].detach().float().cpu().movedim(0, -1), factors, bias)
    pixels = ((rgb + 1.0) / 2.0).clamp(0, 1).mul(255).to(torch.uint8)
    return Image.fromarray(pixels.numpy())


PREVIEW_MAX_SIZE = 512


def step_preview(latent_format, x0: torch.Tensor):
    """The preview tuple for `executor.progress.report`, or None when nobody listens or previews are off.

    The executor may set `preview_method` on its progress hook (ComfyUI's `--preview-method` / per-prompt
    `preview_method`); "none" turns previews off, every other method gets the latent→RGB approximation.
    """
    hook = progress.current()
    if hook is None or getattr(hook, "preview_method", "auto") in DISABLED:
        return None
    image = latent_to_rgb(latent_format, x0)
    # A max size (not None) asks the server to fit the frame into its --preview-size, as ComfyUI's previews do.
    return ("JPEG", image, PREVIEW_MAX_SIZE) if image is not None else None
