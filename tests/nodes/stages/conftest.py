"""Fixtures for the stage-node tests: private input/output/temp folders and a stand-in VAE."""

import pytest
import torch
import torch.nn.functional as F

from nodes import paths as node_paths


@pytest.fixture
def folders(tmp_path):
    """Point nodes.paths.default() at a fresh base directory for one test."""
    previous = node_paths._default
    paths = node_paths.configure(node_paths.Paths.create(tmp_path))
    for folder in (paths.input_dir, paths.output_dir, paths.temp_dir):
        folder.mkdir(parents=True, exist_ok=True)
    yield paths
    node_paths._default = previous


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
