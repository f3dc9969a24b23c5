"""SD3.5 as a family: tiny MMDiTs (Large-style, and Medium-style with MMDiT-X dual attention) written in Stability
AI's layout (bare and under `model.diffusion_model.`) and in diffusers' load through UNETLoader, are configured from
their shapes, call the network like the diffusers module, and sample like diffusers' StableDiffusion3Pipeline."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from runtime import families
from runtime.networks import sd3

CONTEXT, POOLED, TOKENS = 24, 20, 7
HIDDEN, HEAD, DEPTH, MAX_SIZE = 32, 16, 3, 8  # two 16-wide heads; a 8×8-patch position table


def tiny_sd3(dual: tuple = (), seed: int = 0):
    from diffusers import SD3Transformer2DModel

    torch.manual_seed(seed)
    network = SD3Transformer2DModel(sample_size=16, patch_size=2, in_channels=16, out_channels=16,
                                    num_layers=DEPTH, attention_head_dim=HEAD, num_attention_heads=HIDDEN // HEAD,
                                    joint_attention_dim=CONTEXT, caption_projection_dim=HIDDEN,
                                    pooled_projection_dim=POOLED, pos_embed_max_size=MAX_SIZE,
                                    dual_attention_layers=dual, qk_norm="rms_norm").eval()
    with torch.no_grad():  # make every weight (the zero-initialised norms' too) count in comparisons
        for param in network.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return network


def contiguous(state: dict) -> dict:
    return {k: v.contiguous() for k, v in state.items()}


@pytest.fixture(scope="module")
def sd3_files(tmp_path_factory):
    large, medium = tiny_sd3(), tiny_sd3(dual=(0, 1), seed=1)
    base = tmp_path_factory.mktemp("sd3_base")
    folder = base / "models" / "diffusion_models"
    folder.mkdir(parents=True)
    original = {"large": sd3.from_diffusers(large.state_dict()), "medium": sd3.from_diffusers(medium.state_dict())}
    for name, network in (("large", large), ("medium", medium)):
        save_file(contiguous(original[name]), str(folder / f"sd3_{name}.safetensors"))
        save_file(contiguous({"model.diffusion_model." + k: v for k, v in original[name].items()}),
                  str(folder / f"sd3_{name}_prefixed.safetensors"))
        save_file(contiguous(network.state_dict()), str(folder / f"sd3_{name}_diffusers.safetensors"))
    incomplete = {k: v for k, v in original["large"].items() if k != "joint_blocks.1.x_block.mlp.fc2.weight"}
    save_file(contiguous(incomplete), str(folder / "sd3_incomplete.safetensors"))
    return {"base": base, "large": large, "medium": medium, "original": original}


@pytest.fixture
def sd3_paths(sd3_files):
    import runtime

    with runtime.configured(paths=runtime.Paths.create(sd3_files["base"])) as settings:
        yield settings.paths


def load(name):
    from nodes.stages.loaders import UNETLoader

    return UNETLoader().load_unet(name, "default")[0]


def original_names(depth: int, dual: tuple) -> set:
    """Every key of a Stability-layout SD3.5 MMDiT (spec families.md §3(e): `joint_blocks.N.{x,context}_block`,
    `attn.ln_q/ln_k` RMS norms, `x_block.attn2` in MMDiT-X blocks, the last context block pre-only)."""
    def linear(name):
        return {f"{name}.weight", f"{name}.bias"}

    names = {"pos_embed"} | linear("x_embedder.proj") | linear("context_embedder")
    for name in ("t_embedder.mlp.0", "t_embedder.mlp.2", "y_embedder.mlp.0", "y_embedder.mlp.2",
                 "final_layer.linear", "final_layer.adaLN_modulation.1"):
        names |= linear(name)
    for i in range(depth):
        for stream in ("x_block", "context_block"):
            block = f"joint_blocks.{i}.{stream}"
            names |= linear(f"{block}.adaLN_modulation.1") | linear(f"{block}.attn.qkv")
            names |= {f"{block}.attn.ln_q.weight", f"{block}.attn.ln_k.weight"}
            if stream == "x_block" or i < depth - 1:
                names |= linear(f"{block}.attn.proj") | linear(f"{block}.mlp.fc1") | linear(f"{block}.mlp.fc2")
        if i in dual:
            block = f"joint_blocks.{i}.x_block.attn2"
            names |= linear(f"{block}.qkv") | linear(f"{block}.proj") | {f"{block}.ln_q.weight", f"{block}.ln_k.weight"}
    return names


@pytest.mark.parametrize("variant, dual", [("large", ()), ("medium", (0, 1))])
def test_the_original_layout_has_the_real_key_names_and_matches_diffusers_own_converter(sd3_files, variant, dual):
    from diffusers.loaders.single_file_utils import convert_sd3_transformer_checkpoint_to_diffusers

    network, original = sd3_files[variant], sd3_files["original"][variant]
    assert set(original) == original_names(DEPTH, dual)
    reference = network.state_dict()
    # diffusers' single-file converter (which swaps the pre-only modulations' halves) reads our files back exactly
    theirs = convert_sd3_transformer_checkpoint_to_diffusers(dict(original))
    assert theirs.keys() == reference.keys()
    assert all(torch.equal(theirs[k], v) for k, v in reference.items())
    back = sd3.to_diffusers(original)
    assert back.keys() == reference.keys() and all(torch.equal(back[k], v) for k, v in reference.items())
    # fused projections: rows q, k, v
    qkv = original["joint_blocks.1.context_block.attn.qkv.weight"]
    assert torch.equal(qkv[HIDDEN:2 * HIDDEN], reference["transformer_blocks.1.attn.add_k_proj.weight"])


def test_the_pre_only_modulations_are_shift_then_scale_in_the_original_layout(sd3_files):
    """The final layer and the last block's context modulation: (shift, scale) = adaLN_modulation(c), applied as
    LayerNorm(x)·(1 + scale) + shift; diffusers' AdaLayerNormContinuous splits the other way round."""
    original, network = sd3_files["original"]["large"], sd3_files["large"]
    x, c = torch.randn(1, 5, HIDDEN), torch.randn(1, HIDDEN)

    def expected(prefix):
        modulation = torch.nn.functional.silu(c) @ original[prefix + ".weight"].T + original[prefix + ".bias"]
        shift, scale = modulation.chunk(2, dim=1)
        return torch.nn.functional.layer_norm(x, (HIDDEN,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]

    with torch.no_grad():
        assert torch.allclose(network.norm_out(x, c), expected("final_layer.adaLN_modulation.1"), atol=1e-6)
        last = network.transformer_blocks[DEPTH - 1].norm1_context
        assert torch.allclose(last(x, c), expected(f"joint_blocks.{DEPTH - 1}.context_block.adaLN_modulation.1"),
                              atol=1e-6)


@pytest.mark.parametrize("variant, dual", [("large", ()), ("medium", (0, 1))])
@pytest.mark.parametrize("layout", ["", "_prefixed", "_diffusers"])
def test_an_sd3_transformer_loads_through_unet_loader_from_each_layout(sd3_files, sd3_paths, variant, dual, layout):
    model = load(f"sd3_{variant}{layout}.safetensors")
    assert model.family == "sd3" and type(model.unet).__name__ == "SD3Transformer2DModel"
    config = model.unet.config
    assert (config.num_layers, config.num_attention_heads, config.attention_head_dim, config.patch_size) \
        == (DEPTH, HIDDEN // HEAD, HEAD, 2)
    assert (config.joint_attention_dim, config.caption_projection_dim, config.pooled_projection_dim) \
        == (CONTEXT, HIDDEN, POOLED)
    assert (config.pos_embed_max_size, config.qk_norm, tuple(config.dual_attention_layers)) \
        == (MAX_SIZE, "rms_norm", dual)
    assert model.in_channels == 16 and model.latent_format.channels == 16
    assert (model.latent_format.scale_factor, model.latent_format.shift_factor) == (1.5305, 0.0609)
    assert len(model.latent_format.rgb_factors) == 16 and model.latent_format.rgb_bias == (0.2394, 0.2135, 0.1925)
    sampling = model.model_sampling
    assert sampling.prediction_type == "flow" and type(sampling).__name__ == "FlowSampling"
    assert (sampling.shift, sampling.multiplier) == (3.0, 1000.0)
    assert not any(b.is_meta for b in model.unet.buffers())
    for key, value in sd3_files[variant].state_dict().items():
        assert torch.equal(model.unet.state_dict()[key], value), key


def reference(network, x, timestep, context, pooled):
    with torch.no_grad():
        return network(hidden_states=x, encoder_hidden_states=context, pooled_projections=pooled,
                       timestep=timestep, return_dict=False)[0]


@pytest.mark.parametrize("variant", ["large", "medium"])
def test_the_model_calls_the_network_like_the_diffusers_module(sd3_files, sd3_paths, variant):
    model, network = load(f"sd3_{variant}.safetensors"), sd3_files[variant]
    x, context, pooled = torch.randn(2, 16, 6, 8), torch.randn(2, TOKENS, CONTEXT), torch.randn(1, POOLED)
    extras = model.extra_conds({"pooled_output": pooled}, x.shape)
    assert extras.keys() == {"pooled_projections"} and torch.equal(extras["pooled_projections"], pooled)
    assert torch.equal(model.extra_conds({}, x.shape)["pooled_projections"], torch.zeros(1, POOLED))
    with pytest.raises(ValueError, match="pooled_output is 7 wide"):
        model.extra_conds({"pooled_output": torch.zeros(1, 7)}, x.shape)
    timestep = model.model_sampling.timestep(torch.tensor([0.7, 0.7]))  # σ·1000
    assert torch.allclose(timestep, torch.tensor([700.0, 700.0]))
    ours = model.unet_forward(x, timestep, context, {"pooled_projections": pooled.expand(2, -1)})
    theirs = reference(network, x, timestep, context, pooled.expand(2, -1))
    assert torch.allclose(ours, theirs, atol=1e-5)

    # odd sizes are padded circularly at the bottom and right, and cut back
    odd = torch.randn(1, 16, 5, 7)
    padded = torch.nn.functional.pad(odd, (0, 1, 0, 1), mode="circular")
    ours = model.unet_forward(odd, timestep[:1], context[:1], {"pooled_projections": pooled})
    theirs = reference(network, padded, timestep[:1], context[:1], pooled)
    assert ours.shape == odd.shape and torch.allclose(ours, theirs[:, :, :5, :7], atol=1e-5)


@pytest.mark.parametrize("variant", ["large", "medium"])
def test_euler_sampling_with_cfg_equals_the_diffusers_sd3_pipeline(sd3_files, sd3_paths, variant):
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusion3Pipeline

    from nodes.stages.custom_sampling import KSamplerSelect, SamplerCustom
    from runtime.sampling.noise import SeededNoise

    model, network = load(f"sd3_{variant}.safetensors"), sd3_files[variant]
    torch.manual_seed(3)
    context, pooled = torch.randn(1, TOKENS, CONTEXT), torch.randn(1, POOLED)
    negative_context, negative_pooled = torch.randn(1, TOKENS, CONTEXT), torch.randn(1, POOLED)
    positive = [[context, {"pooled_output": pooled}]]
    negative = [[negative_context, {"pooled_output": negative_pooled}]]
    latent = {"samples": torch.zeros(1, 16, 8, 6)}
    sigmas = torch.tensor([1.0, 0.8, 0.55, 0.3, 0.0])
    (sampler,) = KSamplerSelect().get_sampler("euler")
    (ours, _) = SamplerCustom().sample(model, True, 7, 4.0, positive, negative, sampler, sigmas, latent)

    noise = SeededNoise(7).generate_noise(latent)
    # shift 1 here: the explicit sigmas are used as given (the sampler's are too)
    pipe = StableDiffusion3Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), vae=None,
                                    text_encoder=None, tokenizer=None, text_encoder_2=None, tokenizer_2=None,
                                    text_encoder_3=None, tokenizer_3=None, transformer=network)
    theirs = pipe(prompt_embeds=context, pooled_prompt_embeds=pooled, negative_prompt_embeds=negative_context,
                  negative_pooled_prompt_embeds=negative_pooled, latents=noise, height=64, width=48,
                  sigmas=sigmas[:-1].tolist(), num_inference_steps=4, guidance_scale=4.0, output_type="latent",
                  return_dict=False)[0]
    theirs = model.latent_format.process_out(theirs)
    assert torch.allclose(ours["samples"], theirs, atol=1e-3)


def test_files_that_are_not_a_whole_sd3_transformer_get_a_clear_error(sd3_files, sd3_paths):
    from runtime.weights.files import ModelFileError

    with pytest.raises(ModelFileError, match=r"sd3_incomplete\.safetensors.*1 missing.*transformer_blocks\.1\.ff"):
        load("sd3_incomplete.safetensors")


def test_sd3_declares_its_text_encoders_clip_type_and_checkpoint_vae():
    family = families.get("sd3")
    assert family.label == "SD3.5" and family.vae_prefix == "first_stage_model." and "sd3" in families.clip_types()
    assert [e.name for e in family.text_encoders] == ["l", "g", "t5xxl"]
    assert family.text_encoder("g").checkpoint_prefixes == (("text_encoders.clip_g.transformer.", "hf"),)
    assert family.text_encoder("t5xxl").checkpoint_prefixes == (("text_encoders.t5xxl.transformer.", "hf"),)
    assert np.allclose(family.latent_format.process_in(torch.tensor([1.0])), (1.0 - 0.0609) * 1.5305)


def test_an_all_in_one_checkpoint_layout_is_detected_with_its_parts(sd3_files):
    """sd3.5_large.safetensors' layout: the MMDiT under `model.diffusion_model.`, the VAE under
    `first_stage_model.`, the text encoders under `text_encoders.*.transformer.`."""
    state = {"model.diffusion_model." + k: v for k, v in sd3_files["original"]["medium"].items()}
    state["first_stage_model.decoder.conv_in.weight"] = torch.zeros(4, 16, 3, 3)
    state["text_encoders.clip_l.transformer.text_model.final_layer_norm.weight"] = torch.zeros(4)
    state["text_encoders.t5xxl.transformer.shared.weight"] = torch.zeros(4, 4)
    detection = families.detect_checkpoint(state)
    assert detection.family == "sd3" and detection.unet_prefix == "model.diffusion_model."
    assert detection.vae_prefix == "first_stage_model." and detection.prediction_type == "flow"
    assert [(t.slot, t.prefix) for t in detection.text_encoders] == [
        ("l", "text_encoders.clip_l.transformer."), ("t5xxl", "text_encoders.t5xxl.transformer.")]
    assert detection.unet_config["dual_attention_layers"] == (0, 1)


def test_an_all_in_one_checkpoint_with_a_t5_encoder_says_t5_is_not_supported_yet(sd3_files, sd3_paths):
    from nodes.stages.loaders import CheckpointLoaderSimple
    from runtime.weights.files import ModelFileError

    state = {"model.diffusion_model." + k: v for k, v in sd3_files["original"]["large"].items()}
    state["text_encoders.t5xxl.transformer.shared.weight"] = torch.zeros(8, 4)
    state["text_encoders.t5xxl.transformer.encoder.block.0.layer.0.SelfAttention.k.weight"] = torch.zeros(4, 4)
    (sd3_paths.models_dir / "checkpoints").mkdir(exist_ok=True)
    save_file(contiguous(state), str(sd3_paths.models_dir / "checkpoints" / "sd3.5_aio.safetensors"))
    with pytest.raises(ModelFileError, match=r"CheckpointLoaderSimple.*sd3\.5_aio\.safetensors \(text encoder t5xxl; "
                                             r"UNETLoader and VAELoader load its other parts\): a T5 text encoder"):
        CheckpointLoaderSimple().load_checkpoint("sd3.5_aio.safetensors")
