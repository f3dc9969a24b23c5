"""The UNet loss: epsilon MSE on SD1's schedule, optionally Min-SNR weighted."""

from types import SimpleNamespace

import torch

from tools.toymodel import models
from tools.toymodel.train_unet import diffusion_loss


class ZeroUNet:
    """Predicts zero noise, so the loss is the mean square of the drawn noise; records the timesteps it saw."""

    def __call__(self, noisy, timesteps, context):
        self.timesteps = timesteps
        return SimpleNamespace(sample=torch.zeros_like(noisy))


def text_encoder(input_ids):
    return SimpleNamespace(last_hidden_state=torch.zeros(input_ids.shape[0], 77, 128))


def loss_with(gamma: float, unet: ZeroUNet) -> torch.Tensor:
    latents, tokens = torch.zeros(8, 4, 8, 8), torch.zeros(8, 77, dtype=torch.long)
    return diffusion_loss(unet, text_encoder, models.build_scheduler(), latents, tokens,
                          torch.Generator().manual_seed(0), train_text=False, snr_gamma=gamma)


def test_plain_loss_is_the_noise_mse_and_min_snr_weights_each_sample_by_min_snr_gamma_over_snr():
    unet = ZeroUNet()
    plain = loss_with(0.0, unet)
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(8, 4, 8, 8, generator=generator)
    torch.testing.assert_close(plain, noise.pow(2).mean())

    weighted = loss_with(5.0, unet)
    alphas = models.build_scheduler().alphas_cumprod[unet.timesteps]
    snr = alphas / (1 - alphas)
    expected = (torch.clamp(snr, max=5.0) / snr * noise.pow(2).mean(dim=(1, 2, 3))).mean()
    torch.testing.assert_close(weighted, expected)
    assert weighted < plain  # some of the drawn timesteps have SNR above 5 and are down-weighted
    torch.testing.assert_close(loss_with(1e9, unet), plain)
