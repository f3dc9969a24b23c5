"""Stage 2: teach the UNet (and optionally the text encoder) to predict the noise in latents of captioned pictures."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tools.toymodel.models import LATENT_SCALE, encode_text


@torch.no_grad()
def scaled_latents(vae, pictures: torch.Tensor) -> torch.Tensor:
    """The UNet's input space: the posterior mean times SD1's scale factor (unit variance after normalise_latents)."""
    return vae.encode(pictures).latent_dist.mean * LATENT_SCALE


def diffusion_loss(unet, text_encoder, scheduler, latents: torch.Tensor, tokens: torch.Tensor,
                   generator: torch.Generator, train_text: bool, snr_gamma: float = 0.0) -> torch.Tensor:
    """Epsilon-prediction MSE at uniformly drawn timesteps of the SD1 schedule.

    With `snr_gamma` > 0 each sample is weighted by min(SNR, gamma) / SNR (Min-SNR weighting, Hang et al. 2023,
    "Efficient Diffusion Training via Min-SNR Weighting Strategy"): nearly clean timesteps stop dominating the
    gradient, which speeds up learning the layout (shape, position) that the noisy timesteps decide."""
    noise = torch.randn(latents.shape, generator=generator)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    if train_text:
        context = encode_text(text_encoder, tokens)
    else:
        with torch.no_grad():
            context = encode_text(text_encoder, tokens)
    prediction = unet(noisy, timesteps, context).sample
    if snr_gamma <= 0:
        return F.mse_loss(prediction, noise)
    alphas = scheduler.alphas_cumprod[timesteps]
    snr = alphas / (1 - alphas)
    weight = torch.clamp(snr, max=snr_gamma) / snr
    per_sample = F.mse_loss(prediction, noise, reduction="none").mean(dim=(1, 2, 3))
    return (weight * per_sample).mean()
