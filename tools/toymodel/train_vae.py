"""Stage 1: teach the AutoencoderKL to reconstruct the domain, then fold SD1's latent scale into its 1x1 convs."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tools.toymodel.models import LATENT_SCALE


def vae_loss(vae, pictures: torch.Tensor, generator: torch.Generator, kl_weight: float) -> tuple[torch.Tensor, dict]:
    """Reconstruction MSE of a sampled latent plus a small KL term; returns the loss and its parts."""
    posterior = vae.encode(pictures).latent_dist
    latent = posterior.sample(generator=generator)
    reconstruction = vae.decode(latent).sample
    mse = F.mse_loss(reconstruction, pictures)
    kl = posterior.kl().mean()
    return mse + kl_weight * kl, {"mse": mse.item(), "kl": kl.item()}


@torch.no_grad()
def normalise_latents(vae, pictures: torch.Tensor) -> dict:
    """Rescale the VAE so its latents, times SD1's 0.18215, have zero mean and unit variance per channel.

    The encoder's quant_conv produces (mean, logvar) and the decoder's post_quant_conv consumes the latent; both are
    1x1 convolutions, so an affine change of the latent folds into them exactly and decoding is unchanged. This is
    what lets the checkpoint keep SD1's scale factor instead of a toy-specific one."""
    latent = vae.encode(pictures).latent_dist.mean
    mean = latent.mean(dim=(0, 2, 3))
    std = latent.std(dim=(0, 2, 3)).clamp_min(1e-6)
    gain = (1 / LATENT_SCALE) / std  # new latent = gain * (old latent - mean)
    channels = mean.numel()
    quant, post = vae.quant_conv, vae.post_quant_conv
    quant.weight[:channels] *= gain[:, None, None, None]
    quant.bias[:channels] = gain * (quant.bias[:channels] - mean)
    quant.bias[channels:] += 2 * torch.log(gain)
    post.bias += post.weight[:, :, 0, 0] @ mean
    post.weight /= gain[None, :, None, None]
    return {"latent_mean": mean.tolist(), "latent_std": std.tolist(), "gain": gain.tolist()}
