"""Latent formats: how raw VAE latents map to the diffusion network's input space, and the preview colour factors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# linear latent → RGB approximations used for live previews (values as published for SD1.x and SDXL latents)
SD1_RGB_FACTORS = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350),
                   (-0.2829, 0.1762, 0.2721), (-0.2120, -0.2616, -0.7177))
SDXL_RGB_FACTORS = ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068),
                    (0.1076, 0.1111, -0.0362), (-0.3165, -0.2492, -0.2188))
SDXL_RGB_BIAS = (0.1084, -0.0175, -0.0011)


@dataclass(frozen=True)
class LatentFormat:
    """`channels` of a latent `downscale` times smaller than the picture (and `temporal_downscale` times fewer
    frames, for video). Network space is `(raw − shift_factor) · scale_factor`, or with per-channel statistics
    `(raw − mean) · scale_factor / std`. `rgb_factors` (one RGB triple per channel) and `rgb_bias` make previews."""

    channels: int = 4
    scale_factor: float = 0.18215
    shift_factor: float = 0.0
    downscale: int = 8
    temporal_downscale: int = 1
    latents_mean: tuple[float, ...] | None = None
    latents_std: tuple[float, ...] | None = None
    rgb_factors: tuple[tuple[float, float, float], ...] | None = SD1_RGB_FACTORS
    rgb_bias: tuple[float, float, float] | None = None

    def _statistics(self, latent):
        shape = (1, -1) + (1,) * (latent.ndim - 2)
        mean = latent.new_tensor(self.latents_mean).view(shape)
        std = latent.new_tensor(self.latents_std).view(shape)
        return mean, std

    def process_in(self, latent):
        """Raw VAE latent → network space."""
        if self.latents_mean is not None:
            mean, std = self._statistics(latent)
            return (latent - mean) * self.scale_factor / std
        if self.shift_factor:
            latent = latent - self.shift_factor
        return latent * self.scale_factor

    def process_out(self, latent):
        """Network space → raw VAE latent."""
        if self.latents_mean is not None:
            mean, std = self._statistics(latent)
            return latent * std / self.scale_factor + mean
        latent = latent / self.scale_factor
        return latent + self.shift_factor if self.shift_factor else latent

    def sized(self, channels: int, downscale: int) -> "LatentFormat":
        """This format for a network with `channels` latent channels and a VAE that downscales by `downscale`;
        preview factors and statistics only hold for the format's own channel count."""
        if channels == self.channels:
            return dataclasses.replace(self, downscale=downscale)
        return dataclasses.replace(self, channels=channels, downscale=downscale, rgb_factors=None, rgb_bias=None,
                                   latents_mean=None, latents_std=None)
