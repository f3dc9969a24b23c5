"""Fixtures for the stage-node tests: a stand-in VAE (the `folders` fixture is in tests/nodes/conftest.py)."""

import pytest
import torch
import torch.nn.functional as F


class StandInVAE:
    """Follows the VAE contract with arithmetic instead of a network; records what it was given."""

    downscale_ratio = 8
    latent_channels = 4

    def __init__(self):
        self.encoded = []
        self.tiled_calls = []

    def encode(self, pixels):
        self.encoded.append(pixels.clone())
        pooled = F.avg_pool2d(pixels.movedim(-1, 1) * 2 - 1, self.downscale_ratio)
        return torch.cat([pooled, pooled.mean(1, keepdim=True)], dim=1)

    def decode(self, latent):
        pixels = F.interpolate(latent[:, :3], scale_factor=self.downscale_ratio, mode="nearest")
        return ((pixels + 1) / 2).clamp(0, 1).movedim(1, -1)

    def encode_tiled(self, pixels, **tiling):
        self.tiled_calls.append(tiling)
        return self.encode(pixels)

    def decode_tiled(self, latent, **tiling):
        self.tiled_calls.append(tiling)
        return self.decode(latent)


@pytest.fixture
def vae():
    return StandInVAE()
