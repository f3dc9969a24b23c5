"""Tiny single-file checkpoints load through the real path and compute exactly what the diffusers originals do."""

import pytest
import torch

from nodes.stages.loaders import CheckpointLoaderSimple

FAMILIES = ("sd1", "sdxl", "sdxl_refiner")


def _unet_inputs(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 8, 8, generator=g)
    context = torch.randn(2, 77, model.unet.config.cross_attention_dim, generator=g)
    extras = {}
    if model.family.startswith("sdxl"):
        pooled = torch.randn(1, 64, generator=g)
        one = model.extra_conds({"pooled_output": pooled, "width": 64, "height": 48}, x.shape)
        extras = {k: v.expand(2, *v.shape[1:]) for k, v in one.items()}
    return x, torch.tensor([999.0, 10.0]), context, extras


@pytest.mark.parametrize("family", FAMILIES)
def test_checkpoint_loader_detects_family_and_matches_diffusers(family, tiny_checkpoints, tiny_models_paths):
    tiny = tiny_checkpoints[family]
    model, clip, vae = CheckpointLoaderSimple().load_checkpoint(tiny.name)
    assert model.family == family
    assert model.model_sampling.prediction_type == "eps"
    assert model.latent_format.scale_factor == (0.18215 if family == "sd1" else 0.13025)
    assert vae.downscale_ratio == 8 and vae.latent_channels == 4

    x, t, context, extras = _unet_inputs(model)
    ours = model.unet_forward(x, t, context, extras)
    reference = tiny.components["unet"](x, t, encoder_hidden_states=context,
                                        added_cond_kwargs=extras or None).sample
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)

    image = torch.rand(1, 32, 48, 3, generator=torch.Generator().manual_seed(1))
    latent = vae.encode(image)
    expected = tiny.components["vae"].encode(image.movedim(-1, 1) * 2 - 1).latent_dist.mode()
    torch.testing.assert_close(latent, expected, atol=1e-5, rtol=1e-5)
    decoded = vae.decode(latent)
    assert decoded.shape == (1, 32, 48, 3) and 0 <= decoded.min() and decoded.max() <= 1


def test_sdxl_size_conditioning_reaches_the_unet(tiny_checkpoints, tiny_models_paths):
    model, _, _ = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sdxl"].name)
    x, t, context, extras = _unet_inputs(model)
    assert extras["time_ids"][0].tolist() == [48, 64, 0, 0, 48, 64]
    other = dict(extras, time_ids=torch.tensor([[1024.0, 1024, 0, 0, 1024, 1024]] * 2))
    assert not torch.allclose(model.unet_forward(x, t, context, extras), model.unet_forward(x, t, context, other))


def test_refiner_aesthetic_score_defaults(tiny_checkpoints, tiny_models_paths):
    model, _, _ = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sdxl_refiner"].name)
    positive = model.extra_conds({}, (1, 4, 8, 8))["time_ids"]
    negative = model.extra_conds({"prompt_type": "negative"}, (1, 4, 8, 8))["time_ids"]
    assert positive[0, -1] == 6.0 and negative[0, -1] == 2.5


def test_missing_checkpoint_names_node_and_input(tiny_models_paths):
    with pytest.raises(FileNotFoundError, match="CheckpointLoaderSimple: input 'ckpt_name'.*nope.safetensors"):
        CheckpointLoaderSimple().load_checkpoint("nope.safetensors")


def test_combo_lists_checkpoint_files(tiny_models_paths):
    names = CheckpointLoaderSimple.INPUT_TYPES()["required"]["ckpt_name"][0]
    assert {"tiny_sd1.safetensors", "tiny_sdxl.safetensors"} <= set(names)
