"""Latent formats: the scale between raw VAE latents and the UNet's input space, and the preview colour factors."""

from __future__ import annotations

from dataclasses import dataclass

# linear latent → RGB approximations used for live previews (values as published for SD1.x and SDXL latents)
SD1_RGB_FACTORS = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350),
                   (-0.2829, 0.1762, 0.2721), (-0.2120, -0.2616, -0.7177))
SDXL_RGB_FACTORS = ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068),
                    (0.1076, 0.1111, -0.0362), (-0.3165, -0.2492, -0.2188))
SDXL_RGB_BIAS = (0.1084, -0.0175, -0.0011)


@dataclass(frozen=True)
class LatentFormat:
    channels: int = 4
    scale_factor: float = 0.18215
    downscale: int = 8
    rgb_factors: tuple[tuple[float, float, float], ...] | None = SD1_RGB_FACTORS
    rgb_bias: tuple[float, float, float] | None = None

    def process_in(self, latent):
        """Raw VAE latent → UNet space."""
        return latent * self.scale_factor

    def process_out(self, latent):
        """UNet space → raw VAE latent."""
        return latent / self.scale_factor


def latent_format_for(family: str, channels: int = 4, downscale: int = 8) -> LatentFormat:
    """The format of a model family; preview factors only exist for 4-channel latents."""
    xl = family.startswith("sdxl")
    factors = (SDXL_RGB_FACTORS if xl else SD1_RGB_FACTORS) if channels == 4 else None
    return LatentFormat(channels=channels, scale_factor=0.13025 if xl else 0.18215, downscale=downscale,
                        rgb_factors=factors, rgb_bias=SDXL_RGB_BIAS if xl and channels == 4 else None)
