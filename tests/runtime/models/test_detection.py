"""Checkpoint detection on shape-only (meta-device) state dicts with the full key sets of real SD checkpoints."""

import pytest
import torch

from runtime.families import UnknownModelError, detect_checkpoint
from tiny_models import clip_original, unet_original, vae_original

LDM_VAE = dict(block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=4,
               down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4)
SD15_UNET = dict(block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, cross_attention_dim=768,
                 down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                 up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, attention_head_dim=8)
SD21_UNET = dict(SD15_UNET, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20], use_linear_projection=True)
SDXL_UNET = dict(block_out_channels=[320, 640, 1280], layers_per_block=2, cross_attention_dim=2048,
                 down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                 transformer_layers_per_block=[1, 2, 10], attention_head_dim=[5, 10, 20], use_linear_projection=True,
                 addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
REFINER_UNET = dict(block_out_channels=[384, 768, 1536, 1536], layers_per_block=2, cross_attention_dim=1280,
                    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                    transformer_layers_per_block=4, attention_head_dim=[6, 12, 24, 24], use_linear_projection=True,
                    addition_embed_type="text_time", addition_time_embed_dim=256,
                    projection_class_embeddings_input_dim=2560)
CLIP_L = dict(hidden_size=768, num_hidden_layers=12, intermediate_size=3072, projection=False)
CLIP_H = dict(hidden_size=1024, num_hidden_layers=24, intermediate_size=4096, projection=True)
CLIP_G = dict(hidden_size=1280, num_hidden_layers=32, intermediate_size=5120, projection=True)


def _meta(factory):
    with torch.device("meta"):
        return factory()


def _clip(spec):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    spec = dict(spec)
    cls = CLIPTextModelWithProjection if spec.pop("projection") else CLIPTextModel
    config = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, projection_dim=spec["hidden_size"],
                            num_attention_heads=spec["hidden_size"] // 64, **spec)
    return _meta(lambda: cls(config))


def real_layout(unet_config, encoders):
    """A meta-device state dict with the key names and shapes of a real single-file checkpoint."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    unet = _meta(lambda: UNet2DConditionModel(**unet_config))
    state = {"model.diffusion_model." + k: v for k, v in unet_original(unet).items()}
    vae = _meta(lambda: AutoencoderKL(**LDM_VAE))
    state.update({"first_stage_model." + k: v for k, v in vae_original(vae).items()})
    for prefix, spec, layout in encoders:
        state.update({prefix + k: v for k, v in clip_original(_clip(spec), layout).items()})
    return state


@pytest.fixture(scope="module")
def sd15():
    return real_layout(SD15_UNET, [("cond_stage_model.transformer.", CLIP_L, "hf")])


@pytest.fixture(scope="module")
def sd21():
    return real_layout(SD21_UNET, [("cond_stage_model.model.", CLIP_H, "openclip")])


@pytest.fixture(scope="module")
def sdxl():
    return real_layout(SDXL_UNET, [("conditioner.embedders.0.transformer.", CLIP_L, "hf"),
                                   ("conditioner.embedders.1.model.", CLIP_G, "openclip")])


@pytest.fixture(scope="module")
def refiner():
    return real_layout(REFINER_UNET, [("conditioner.embedders.0.model.", CLIP_G, "openclip")])


def _count(state, prefix):
    return sum(k.startswith(prefix) for k in state)


def test_generated_key_sets_match_the_published_checkpoints(sd15, sdxl, refiner, sd21):
    # key counts and names as found in v1-5-pruned, v2-1_768, sd_xl_base_1.0 and sd_xl_refiner_1.0
    assert _count(sd15, "model.diffusion_model.") == 686 and _count(sdxl, "model.diffusion_model.") == 1680
    assert _count(sd15, "first_stage_model.") == 248
    assert _count(sd15, "cond_stage_model.transformer.text_model.") == 196
    assert sd15["model.diffusion_model.input_blocks.1.1.proj_in.weight"].shape == (320, 320, 1, 1)
    assert sd15["model.diffusion_model.output_blocks.2.1.conv.weight"].shape == (1280, 1280, 3, 3)
    assert sd15["model.diffusion_model.input_blocks.3.0.op.weight"].shape == (320, 320, 3, 3)
    assert sd15["model.diffusion_model.output_blocks.5.2.conv.weight"].shape == (1280, 1280, 3, 3)
    assert sd15["model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight"].shape == (1280, 768)
    assert sd15["first_stage_model.encoder.mid.attn_1.q.weight"].shape == (512, 512, 1, 1)
    assert sd15["first_stage_model.decoder.up.0.block.0.nin_shortcut.weight"].shape == (128, 256, 1, 1)
    assert sd15["first_stage_model.decoder.up.3.upsample.conv.weight"].shape == (512, 512, 3, 3)
    assert sd21["model.diffusion_model.input_blocks.1.1.proj_in.weight"].shape == (320, 320)
    assert sd21["cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight"].shape == (3072, 1024)
    assert sd21["cond_stage_model.model.positional_embedding"].shape == (77, 1024)
    assert sdxl["model.diffusion_model.label_emb.0.0.weight"].shape == (1280, 2816)
    assert sdxl["model.diffusion_model.output_blocks.2.2.conv.weight"].shape == (1280, 1280, 3, 3)
    assert sdxl["model.diffusion_model.input_blocks.8.1.transformer_blocks.9.attn2.to_k.weight"].shape == (1280, 2048)
    assert sdxl["conditioner.embedders.1.model.transformer.resblocks.31.mlp.c_fc.weight"].shape == (5120, 1280)
    assert sdxl["conditioner.embedders.1.model.text_projection"].shape == (1280, 1280)
    assert sdxl["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"].shape == (768,)
    assert refiner["model.diffusion_model.label_emb.0.0.weight"].shape == (1536, 2560)


def _assert_config(info, reference):
    for key in ("block_out_channels", "layers_per_block", "down_block_types", "up_block_types",
                "cross_attention_dim", "use_linear_projection", "projection_class_embeddings_input_dim"):
        expected = reference.get(key, False if key == "use_linear_projection" else None)
        got = info.unet_config.get(key)
        assert got == expected, key


def test_sd15(sd15):
    info = detect_checkpoint(sd15)
    assert (info.family, info.prediction_type, info.latent_scale) == ("sd1", "eps", 0.18215)
    _assert_config(info, SD15_UNET)
    assert info.unet_config["attention_head_dim"] == [8] * 4
    assert [(s.slot, s.prefix, s.layout) for s in info.text_encoders] == [("l", "cond_stage_model.transformer.", "hf")]


def test_sd21_768_v_is_told_apart_by_the_bias_spread(sd21):
    key = "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias"
    v_model = dict(sd21, **{key: torch.randn(320, generator=torch.Generator().manual_seed(0)) * 0.2})
    eps_model = dict(sd21, **{key: torch.randn(320, generator=torch.Generator().manual_seed(0)) * 0.01})
    info = detect_checkpoint(v_model)
    assert (info.family, info.prediction_type) == ("sd2", "v")
    assert detect_checkpoint(eps_model).prediction_type == "eps"
    assert info.unet_config["attention_head_dim"] == [5, 10, 20, 20]
    _assert_config(info, SD21_UNET)
    assert [s.layout for s in info.text_encoders] == ["openclip"]


def test_sdxl_base(sdxl):
    info = detect_checkpoint(sdxl)
    assert (info.family, info.prediction_type, info.latent_scale) == ("sdxl", "eps", 0.13025)
    _assert_config(info, SDXL_UNET)
    assert info.unet_config["transformer_layers_per_block"] == [10, 2, 10]  # plain level: entry unused
    assert info.unet_config["attention_head_dim"] == [5, 10, 20]
    assert [s.slot for s in info.text_encoders] == ["l", "g"]


def test_sdxl_refiner(refiner):
    info = detect_checkpoint(refiner)
    assert info.family == "sdxl_refiner"
    _assert_config(info, REFINER_UNET)
    assert info.unet_config["transformer_layers_per_block"] == [4, 4, 4, 4]
    assert info.unet_config["attention_head_dim"] == [6, 12, 24, 24]
    assert [(s.slot, s.prefix) for s in info.text_encoders] == [("g", "conditioner.embedders.0.model.")]


def test_detected_configs_build_the_same_networks(sdxl):
    from diffusers import UNet2DConditionModel

    info = detect_checkpoint(sdxl)
    ours = _meta(lambda: UNet2DConditionModel(**info.unet_config)).state_dict()
    real = _meta(lambda: UNet2DConditionModel(**SDXL_UNET)).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in real.items()}


def test_not_a_checkpoint():
    lora = {"lora_unet_input_blocks_1_1_proj_in.lora_down.weight": torch.zeros(4, 320)}
    with pytest.raises(UnknownModelError, match="no UNet"):
        detect_checkpoint(lora)
