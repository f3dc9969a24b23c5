"""The VAE's GroupNorm group count, which no tensor shape records, follows the network's width."""

import torch
from diffusers import AutoencoderKL

from runtime.vae import autoencoder
from runtime.vae.keys import diffusers_vae_to_original
from runtime.weights import shapes as shape_table


def test_published_vaes_keep_32_groups_and_narrow_ones_4_channels_per_group():
    assert autoencoder.vae_norm_groups(128) == 32
    assert autoencoder.vae_norm_groups(32) == 32  # the test suite's tiny VAEs: one channel per group
    assert autoencoder.vae_norm_groups(16) == 4


def test_a_narrow_vae_config_comes_back_from_its_shapes():
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(16, 32), down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, norm_num_groups=4, latent_channels=4)
    weights = {k: v[..., None, None] if v.ndim == 2 and ".mid_block.attentions." in k else v
               for k, v in vae.state_dict().items()}
    config = autoencoder.vae_config_from_shapes(shape_table.shapes_of(diffusers_vae_to_original(weights)), "")
    assert config["norm_num_groups"] == 4 and list(config["block_out_channels"]) == [16, 32]
    AutoencoderKL(**config)  # builds: 16 channels divide into 4 groups
