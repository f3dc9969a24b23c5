"""Separate-file loaders, diffusers folders, SD2 v-prediction, and model wrappers' clone/patch/cache behaviour."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from runtime.weights.files import ModelFileError, load_state_dict
from runtime.weights.patches import WeightPatch
from nodes.stages.loaders import (CheckpointLoaderSimple, CLIPLoader, DiffusersLoader, DualCLIPLoader, UNETLoader,
                                  VAELoader)


def _split(state, prefix):
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


@pytest.fixture
def split_files(tiny_checkpoints, tiny_models_paths):
    """The tiny SD1 and SDXL checkpoints cut into UNet, VAE and text-encoder files in their model folders."""
    models = tiny_checkpoints["base_dir"] / "models"
    for sub in ("unet", "vae", "text_encoders"):
        (models / sub).mkdir(exist_ok=True)
    sd1 = load_state_dict(tiny_checkpoints["sd1"].path)
    sdxl = load_state_dict(tiny_checkpoints["sdxl"].path)
    save_file(_split(sd1, "model.diffusion_model."), str(models / "unet" / "sd1_unet.safetensors"))
    save_file(_split(sd1, "first_stage_model."), str(models / "vae" / "sd1_vae.safetensors"))
    save_file(_split(sd1, "cond_stage_model.transformer."), str(models / "text_encoders" / "clip_l.safetensors"))
    save_file(_split(sdxl, "conditioner.embedders.0.transformer."), str(models / "text_encoders" / "xl_l.safetensors"))
    save_file(_split(sdxl, "conditioner.embedders.1.model."), str(models / "text_encoders" / "xl_g.safetensors"))
    return tiny_checkpoints


def test_separate_files_equal_the_checkpoint(split_files):
    model, clip, vae = CheckpointLoaderSimple().load_checkpoint("tiny_sd1.safetensors")
    (unet,) = UNETLoader().load_unet("sd1_unet.safetensors", "default")
    (clip_l,) = CLIPLoader().load_clip("clip_l.safetensors", "stable_diffusion")
    (vae_alone,) = VAELoader().load_vae("sd1_vae.safetensors")
    x, t, ctx = torch.randn(1, 4, 8, 8), torch.tensor([300.0]), torch.randn(1, 77, 32)
    torch.testing.assert_close(unet.unet_forward(x, t, ctx, {}), model.unet_forward(x, t, ctx, {}))
    torch.testing.assert_close(clip_l.encode("a cat")[0][0], clip.encode("a cat")[0][0])
    image = torch.rand(1, 16, 16, 3)
    torch.testing.assert_close(vae_alone.encode(image), vae.encode(image))
    assert "sd1_unet.safetensors" in UNETLoader.INPUT_TYPES()["required"]["unet_name"][0]


def test_dual_clip_loader_builds_sdxl_clip_in_either_order(split_files):
    _, clip, _ = CheckpointLoaderSimple().load_checkpoint("tiny_sdxl.safetensors")
    (dual,) = DualCLIPLoader().load_clip("xl_g.safetensors", "xl_l.safetensors", "sdxl")
    ours, theirs = dual.encode("a fox")[0], clip.encode("a fox")[0]
    torch.testing.assert_close(ours[0], theirs[0])
    torch.testing.assert_close(ours[1]["pooled_output"], theirs[1]["pooled_output"])
    with pytest.raises(ModelFileError, match="DualCLIPLoader.*do not make a sdxl CLIP"):
        DualCLIPLoader().load_clip("clip_l.safetensors", "xl_l.safetensors", "sdxl")
    with pytest.raises(ModelFileError, match=r"do not make a flux CLIP \(expected L\+T5XXL for Flux\.1\)"):
        DualCLIPLoader().load_clip("xl_g.safetensors", "xl_l.safetensors", "flux")


def test_wrong_file_for_a_loader_names_node_input_and_file(split_files):
    models = split_files["base_dir"] / "models"
    (models / "vae" / "clip_l.safetensors").write_bytes((models / "text_encoders" / "clip_l.safetensors").read_bytes())
    with pytest.raises(ModelFileError, match=r"VAELoader: input 'vae_name' \(clip_l.safetensors\).*not a VAE"):
        VAELoader().load_vae("clip_l.safetensors")


def test_diffusers_folder_loads_like_the_checkpoint(tiny_checkpoints, tiny_models_paths):
    tiny = tiny_checkpoints["sdxl"]
    folder = tiny_checkpoints["base_dir"] / "models" / "diffusers" / "tiny-xl"
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        weights = "model.safetensors" if name.startswith("text") else "diffusion_pytorch_model.safetensors"
        state = {k: v.contiguous() for k, v in tiny.components[name].state_dict().items()}
        save_file(state, str(folder / name / weights))
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    assert "tiny-xl" in DiffusersLoader.INPUT_TYPES()["required"]["model_path"][0]
    model, clip, vae = DiffusersLoader().load_checkpoint("tiny-xl")
    ref_model, ref_clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny.name)
    assert model.family == "sdxl"
    torch.testing.assert_close(clip.encode("x")[0][0], ref_clip.encode("x")[0][0])


def test_sd2_v_checkpoint_is_detected_as_v(tmp_path, tiny_models_paths):
    from tiny_models import write_tiny

    folder = tiny_models_paths.folder_dirs("checkpoints")[0]
    write_tiny("sd2", folder, v_prediction=True)
    write_tiny("sd2", folder)
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint("tiny_sd2_v.safetensors")
    assert (model.family, model.model_sampling.prediction_type) == ("sd2", "v")
    assert CheckpointLoaderSimple().load_checkpoint("tiny_sd2.safetensors")[0].model_sampling.prediction_type == "eps"
    assert clip.encode("x")[0][0].shape == (1, 77, 64)


def test_clones_share_weights_but_not_patches(tiny_checkpoints, tiny_models_paths):
    model = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sd1"].name)[0]
    patched = model.clone()
    key = "conv_out.bias"
    patched.add_patches([WeightPatch(key, 0.5, lambda w: torch.ones_like(w))])
    assert patched.unet is model.unet and model.patches == ()
    x, t, ctx = torch.randn(1, 4, 8, 8), torch.tensor([300.0]), torch.randn(1, 77, 32)
    base = model.unet_forward(x, t, ctx, {})
    torch.testing.assert_close(patched.unet_forward(x, t, ctx, {}), base + 0.5)
    torch.testing.assert_close(model.unet_forward(x, t, ctx, {}), base)  # the original branch is untouched


def test_cache_protocol_reports_and_offloads(tiny_checkpoints, tiny_models_paths):
    model, clip, vae = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sd1"].name)
    cpu, gpu = model.__cache_size__()
    assert cpu == sum(p.numel() * 4 for p in model.unet.parameters()) and gpu == 0
    assert clip.__cache_size__()[0] > 0 and vae.__cache_size__()[0] > 0
    model.__cache_offload__()
    assert model.device.type == "cpu"


def test_tiles_blend_back_to_the_whole_for_local_operations():
    from runtime.vae.autoencoder import tiled

    x = torch.randn(2, 3, 20, 28, generator=torch.Generator().manual_seed(0))
    upsample = lambda t: torch.nn.functional.interpolate(t, scale_factor=4, mode="nearest")  # noqa: E731
    torch.testing.assert_close(tiled(upsample, x, 8, 8, 4, 4, 3, align=1), upsample(x))
    downsample = lambda t: torch.nn.functional.avg_pool2d(t, 4)  # noqa: E731
    torch.testing.assert_close(tiled(downsample, x, 12, 16, 4, 0.25, 3, align=4), downsample(x))


def test_tiled_vae_shapes_and_closeness(tiny_checkpoints, tiny_models_paths):
    _, _, vae = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sd1"].name)
    latent = torch.randn(1, 4, 12, 12, generator=torch.Generator().manual_seed(0))
    plain, tiled = vae.decode(latent), vae.decode_tiled(latent, tile_x=8, tile_y=8, overlap=4)
    assert tiled.shape == plain.shape == (1, 96, 96, 3)
    other = vae.decode(torch.randn(1, 4, 12, 12, generator=torch.Generator().manual_seed(5)))
    # the VAE's middle attention sees only one tile, so tiles differ a little; far less than another latent does
    assert (tiled - plain).abs().mean() < 0.5 * (other - plain).abs().mean()
    image = torch.rand(1, 96, 96, 3, generator=torch.Generator().manual_seed(1))
    assert vae.encode_tiled(image, tile_x=64, tile_y=64, overlap=16).shape == (1, 4, 12, 12)


def test_stage_modules_import_without_torch():
    code = "import sys, nodes.stages.loaders, nodes.stages.text; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_clip_patches_take_canonical_names_and_stay_in_their_clone(tiny_checkpoints, tiny_models_paths):
    _, clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sdxl"].name)
    base = clip.encode("a fox")[0]
    patched = clip.clone()
    patched.add_patches("g", [WeightPatch("text_projection.weight", 1.0, lambda w: w)])  # doubles the projection
    patched.add_patches("l", [WeightPatch("final_layer_norm.bias", 1.0, lambda w: torch.ones_like(w))])
    cond, options = patched.encode("a fox")[0]
    torch.testing.assert_close(options["pooled_output"], 2 * base[1]["pooled_output"])
    torch.testing.assert_close(cond, base[0])  # SDXL reads hidden layer -2: the final norm is not used
    torch.testing.assert_close(clip.encode("a fox")[0][1]["pooled_output"], base[1]["pooled_output"])
    with pytest.raises(KeyError, match="no text encoder 'h'"):
        patched.add_patches("h", [])


def test_model_key_map_serves_original_layout_names(tiny_checkpoints, tiny_models_paths):
    model = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sd1"].name)[0]
    mapping = model.key_map()
    assert mapping["input_blocks.1.1.proj_in.weight"] == "down_blocks.0.attentions.0.proj_in.weight"
    assert mapping["middle_block.2.out_layers.3.weight"] == "mid_block.resnets.1.conv2.weight"
    assert set(mapping.values()) == set(model.unet.state_dict())


def test_inpainting_model_gets_mask_and_masked_image_channels(tiny_models_paths):
    from tiny_models import write_tiny

    tiny = write_tiny("sd1", tiny_models_paths.folder_dirs("checkpoints")[0], inpaint=True)
    model = CheckpointLoaderSimple().load_checkpoint(tiny.name)[0]
    assert model.in_channels == 9
    g = torch.Generator().manual_seed(0)
    x, raw_image = torch.randn(2, 4, 8, 8, generator=g), torch.randn(1, 4, 8, 8, generator=g)
    mask = (torch.rand(1, 64, 64, generator=g) > 0.5).float()
    extras = model.extra_conds({"concat_latent_image": raw_image, "concat_mask": mask}, x.shape)
    t, ctx = torch.tensor([500.0, 500.0]), torch.randn(2, 77, 32, generator=g)
    small_mask = torch.nn.functional.interpolate(mask[None], size=(8, 8), mode="bilinear").round()
    # diffusers' inpainting pipeline feeds [latents, mask, masked image latents * scale]
    sample = torch.cat([x, small_mask.expand(2, 1, 8, 8), (raw_image * 0.18215).expand(2, 4, 8, 8)], dim=1)
    reference = tiny.components["unet"](sample, t, encoder_hidden_states=ctx).sample
    torch.testing.assert_close(model.unet_forward(x, t, ctx, extras), reference, atol=1e-5, rtol=1e-5)
    # without any mask, ComfyUI regenerates everything from a black picture's latent (its values, not zeros), even
    # when the conditioning carries an image
    for options in ({}, {"concat_latent_image": raw_image}):
        blank = model.extra_conds(options, x.shape)["c_concat"]
        black = torch.tensor([0.8223, -0.6876, 0.6364, 0.1380]).view(1, 4, 1, 1).expand(2, 4, 8, 8)
        assert blank.shape == (2, 5, 8, 8) and blank[:, 0].eq(1).all()
        torch.testing.assert_close(blank[:, 1:], black)


def test_a_t5_file_is_named_as_such_not_as_a_broken_clip(split_files):
    folder = split_files["base_dir"] / "models" / "text_encoders"
    save_file({"shared.weight": torch.zeros(8, 4), "encoder.block.0.layer.0.SelfAttention.k.weight": torch.zeros(4, 4)},
              str(folder / "t5xxl_fp16.safetensors"))
    with pytest.raises(ModelFileError, match=r"DualCLIPLoader.*t5xxl_fp16\.safetensors: a T5 text encoder.*not supported"):
        DualCLIPLoader().load_clip("clip_l.safetensors", "t5xxl_fp16.safetensors", "flux")
