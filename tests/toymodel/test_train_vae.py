"""Folding SD1's latent scale into the VAE changes the latents' statistics but not what the decoder draws."""

import torch

from tools.toymodel import data, domain, models
from tools.toymodel.train_vae import normalise_latents


def test_normalised_latents_have_unit_scaled_variance_and_decode_to_the_same_picture():
    torch.manual_seed(0)
    vae = models.build_vae(0).eval()
    pictures = data.pictures(domain.batch(5, 0, 64))
    with torch.no_grad():
        before_latent = vae.encode(pictures).latent_dist
        before = vae.decode(before_latent.mean).sample
        info = normalise_latents(vae, pictures)
        after_latent = vae.encode(pictures).latent_dist
        after = vae.decode(after_latent.mean).sample
    scaled = after_latent.mean * models.LATENT_SCALE
    torch.testing.assert_close(scaled.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(scaled.std(dim=(0, 2, 3)), torch.ones(4), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    # the posterior's spread scales with the latent, so sampling noise keeps its relative size
    gain = torch.tensor(info["gain"])[None, :, None, None]
    torch.testing.assert_close(after_latent.std, before_latent.std * gain, atol=1e-5, rtol=1e-3)
