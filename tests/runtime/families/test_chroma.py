"""Chroma as a family: a tiny transformer written in its original layout (bare and under `model.diffusion_model.`)
and in diffusers' loads through UNETLoader, is configured from its shapes, calls the network like the diffusers
`ChromaTransformer2DModel`, and samples like diffusers' ChromaPipeline; Flux files stay Flux."""

import pytest
import torch
from safetensors.torch import save_file

from runtime import families
from runtime.networks import chroma, flux
from runtime.weights.shapes import shapes_of

CONTEXT, TOKENS = 32, 7
HIDDEN, HEAD = 64, 32  # two 32-wide heads: RoPE axes (4, 14, 14)
APPROXIMATOR_HIDDEN, APPROXIMATOR_LAYERS = 48, 2


def tiny_chroma(seed: int = 0):
    from diffusers import ChromaTransformer2DModel

    torch.manual_seed(seed)
    # as the real config: patch_size 1 with a 64-wide output (diffusers' own Chroma1-HD config)
    network = ChromaTransformer2DModel(in_channels=64, num_layers=2, num_single_layers=2, attention_head_dim=HEAD,
                                       num_attention_heads=HIDDEN // HEAD, joint_attention_dim=CONTEXT,
                                       axes_dims_rope=(4, 14, 14), approximator_num_channels=64,
                                       approximator_hidden_dim=APPROXIMATOR_HIDDEN,
                                       approximator_layers=APPROXIMATOR_LAYERS).eval()
    with torch.no_grad():  # make every weight count in comparisons
        for param in network.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    return network


def tiny_flux():
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(5)
    return FluxTransformer2DModel(in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=HEAD,
                                  num_attention_heads=2, joint_attention_dim=CONTEXT, pooled_projection_dim=24,
                                  guidance_embeds=True, axes_dims_rope=(4, 14, 14)).eval()


def contiguous(state: dict) -> dict:
    return {k: v.contiguous() for k, v in state.items()}


@pytest.fixture(scope="module")
def chroma_files(tmp_path_factory):
    network = tiny_chroma()
    base = tmp_path_factory.mktemp("chroma_base")
    folder = base / "models" / "diffusion_models"
    folder.mkdir(parents=True)
    original = chroma.from_diffusers(network.state_dict())
    save_file(contiguous(original), str(folder / "chroma.safetensors"))
    save_file(contiguous({"model.diffusion_model." + k: v for k, v in original.items()}),
              str(folder / "chroma_prefixed.safetensors"))
    save_file(contiguous(network.state_dict()), str(folder / "chroma_diffusers.safetensors"))
    save_file(contiguous(flux.from_diffusers(tiny_flux().state_dict())), str(folder / "flux_dev.safetensors"))
    return {"base": base, "network": network, "original": original}


@pytest.fixture
def chroma_paths(chroma_files):
    import runtime

    with runtime.configured(paths=runtime.Paths.create(chroma_files["base"])) as settings:
        yield settings.paths


def load(name):
    from nodes.stages.loaders import UNETLoader

    return UNETLoader().load_unet(name, "default")[0]


def built(chroma_files):
    """The MODEL for the original-layout file, built by the loader from an explicit detection (not detected)."""
    from runtime.families import Detection
    from runtime.loaders import model_from_state_dict

    shapes = shapes_of(chroma_files["original"])
    family = families.get("chroma")
    info = Detection(spec=family, unet_prefix="", unet_config=family.match(shapes, ""), prediction_type="flow")
    return model_from_state_dict(dict(chroma_files["original"]), info, "chroma (test)")


def original_names(double: int, single: int, approximator_layers: int) -> set:
    """Every key of an original-layout Chroma file: Flux's less the modulations, vector and guidance inputs, plus
    the approximator (spec families.md §2(e); diffusers' single-file Chroma converter reads the same names)."""
    def linear(name):
        return {f"{name}.weight", f"{name}.bias"}

    names = set()
    for name in ("img_in", "txt_in", "final_layer.linear", "distilled_guidance_layer.in_proj",
                 "distilled_guidance_layer.out_proj"):
        names |= linear(name)
    for i in range(approximator_layers):
        names |= linear(f"distilled_guidance_layer.layers.{i}.in_layer")
        names |= linear(f"distilled_guidance_layer.layers.{i}.out_layer")
        names.add(f"distilled_guidance_layer.norms.{i}.scale")
    for i in range(double):
        for stream in ("img", "txt"):
            block = f"double_blocks.{i}.{stream}"
            names |= linear(f"{block}_attn.qkv") | linear(f"{block}_attn.proj")
            names |= linear(f"{block}_mlp.0") | linear(f"{block}_mlp.2")
            names |= {f"{block}_attn.norm.query_norm.scale", f"{block}_attn.norm.key_norm.scale"}
    for i in range(single):
        block = f"single_blocks.{i}"
        names |= linear(f"{block}.linear1") | linear(f"{block}.linear2")
        names |= {f"{block}.norm.query_norm.scale", f"{block}.norm.key_norm.scale"}
    return names


def test_the_original_layout_has_the_real_key_names_and_converts_back_exactly(chroma_files):
    network, original = chroma_files["network"], chroma_files["original"]
    state = network.state_dict()
    assert set(original) == original_names(2, 2, APPROXIMATOR_LAYERS)
    assert torch.equal(original["distilled_guidance_layer.layers.1.out_layer.weight"],
                       state["distilled_guidance_layer.layers.1.linear_2.weight"])
    assert torch.equal(original["distilled_guidance_layer.norms.0.scale"],
                       state["distilled_guidance_layer.norms.0.weight"])
    qkv = original["double_blocks.0.img_attn.qkv.weight"]
    assert torch.equal(qkv[2 * HIDDEN:], state["transformer_blocks.0.attn.to_v.weight"])
    linear1 = original["single_blocks.1.linear1.weight"]
    assert torch.equal(linear1[3 * HIDDEN:], state["single_transformer_blocks.1.proj_mlp.weight"])
    back = chroma.to_diffusers(original)
    assert back.keys() == state.keys() and all(torch.equal(back[k], v) for k, v in state.items())


def test_config_comes_from_shapes_and_the_network_builds_on_meta_with_its_buffer_computed(chroma_files):
    config = families.get("chroma").match(shapes_of(chroma_files["original"]), "")
    assert config == {"patch_size": 2, "in_channels": 64, "out_channels": 16, "num_layers": 2,
                      "num_single_layers": 2, "attention_head_dim": HEAD, "num_attention_heads": 2,
                      "joint_attention_dim": CONTEXT, "axes_dims_rope": (4, 14, 14), "approximator_num_channels": 64,
                      "approximator_hidden_dim": APPROXIMATOR_HIDDEN, "approximator_layers": APPROXIMATOR_LAYERS}
    network = chroma.build(config, chroma_files["original"], torch.float32, "test")
    buffers = dict(network.named_buffers())
    assert buffers.keys() == {"time_text_embed.mod_proj"} and not buffers["time_text_embed.mod_proj"].is_meta
    assert buffers["time_text_embed.mod_proj"].shape == (chroma.modulations(2, 2), 32)
    assert torch.equal(buffers["time_text_embed.mod_proj"],
                       dict(chroma_files["network"].named_buffers())["time_text_embed.mod_proj"])
    assert not any(p.is_meta for p in network.parameters())
    # Flux's shapes are not Chroma's: Chroma's rule wants the approximator
    assert families.get("chroma").match(shapes_of(flux.from_diffusers(tiny_flux().state_dict())), "") is None


def reference(network, x, sigma, context):
    """The diffusers module called directly on packed latents (the pipeline's packing, ids and all-ones mask)."""
    batch, channels, height, width = x.shape
    tokens = x.reshape(batch, channels, height // 2, 2, width // 2, 2).permute(0, 2, 4, 1, 3, 5)
    tokens = tokens.reshape(batch, -1, channels * 4)
    ids = torch.zeros(height // 2, width // 2, 3)
    ids[..., 1] += torch.arange(height // 2)[:, None]
    ids[..., 2] += torch.arange(width // 2)[None, :]
    mask = torch.ones(batch, context.shape[1] + tokens.shape[1], dtype=torch.bool)
    with torch.no_grad():
        out = network(hidden_states=tokens, encoder_hidden_states=context, timestep=sigma,
                      img_ids=ids.reshape(-1, 3), txt_ids=torch.zeros(context.shape[1], 3), attention_mask=mask,
                      return_dict=False)[0]
    out = out.reshape(batch, height // 2, width // 2, channels, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return out.reshape(batch, channels, height, width)


def check_forward(model, network):
    x, context = torch.randn(2, 16, 6, 8), torch.randn(2, TOKENS, CONTEXT)
    assert model.extra_conds({}, x.shape) == {} == model.extra_conds({"guidance": 0.0, "pooled_output": None},
                                                                     x.shape)
    sigma = torch.tensor([0.7, 0.3])
    ours = model.unet_forward(x, sigma, context, {})
    assert torch.allclose(ours, reference(network, x, sigma, context), atol=1e-5)
    # odd sizes are padded circularly at the bottom and right, and cut back
    odd = torch.randn(1, 16, 5, 7)
    padded = torch.nn.functional.pad(odd, (0, 1, 0, 1), mode="circular")
    ours = model.unet_forward(odd, sigma[:1], context[:1], {})
    theirs = reference(network, padded, sigma[:1], context[:1])
    assert ours.shape == odd.shape and torch.allclose(ours, theirs[:, :, :5, :7], atol=1e-5)


def test_the_model_calls_the_network_like_the_diffusers_module(chroma_files, chroma_paths):
    """Built from an explicit detection, so this holds whatever Flux's rule does with Chroma files."""
    model = built(chroma_files)
    assert model.family == "chroma" and type(model.unet).__name__ == "ChromaTransformer2DModel"
    check_forward(model, chroma_files["network"])
    with pytest.raises(ValueError, match="distilled guidance of 3.5 is not supported"):
        model.extra_conds({"guidance": 3.5}, (1, 16, 4, 4))


@pytest.mark.parametrize("name", ["chroma.safetensors", "chroma_prefixed.safetensors",
                                  "chroma_diffusers.safetensors"])
def test_a_chroma_transformer_loads_through_unet_loader_from_each_layout(chroma_files, chroma_paths, name):
    model = load(name)
    assert model.family == "chroma" and type(model.unet).__name__ == "ChromaTransformer2DModel"
    config = model.unet.config
    assert (config.num_layers, config.num_single_layers, config.num_attention_heads, config.attention_head_dim) \
        == (2, 2, 2, HEAD)
    assert (config.joint_attention_dim, config.approximator_hidden_dim, config.approximator_layers) \
        == (CONTEXT, APPROXIMATOR_HIDDEN, APPROXIMATOR_LAYERS)
    assert tuple(config.axes_dims_rope) == (4, 14, 14)
    assert model.in_channels == 16 and model.latent_format.channels == 16
    assert (model.latent_format.scale_factor, model.latent_format.shift_factor) == (0.3611, 0.1159)
    assert model.model_sampling.prediction_type == "flow"
    assert type(model.model_sampling).__name__ == "FluxSampling"
    for key, value in chroma_files["network"].state_dict().items():
        assert torch.equal(model.unet.state_dict()[key], value), key
    check_forward(model, chroma_files["network"])


def test_flux_files_stay_flux_and_chroma_files_are_chroma(chroma_files, chroma_paths):
    assert families.detect_checkpoint(chroma_files["original"]).family == "chroma"
    assert load("flux_dev.safetensors").family == "flux"


def test_flux_files_are_still_detected_as_flux(chroma_files):
    flux_state = flux.from_diffusers(tiny_flux().state_dict())
    assert families.detect_checkpoint(flux_state).family == "flux"
    assert families.detect_checkpoint({"model.diffusion_model." + k: v for k, v in flux_state.items()}).family \
        == "flux"


def sample_both(model, network, negative_tokens: int):
    from diffusers import ChromaPipeline, FlowMatchEulerDiscreteScheduler

    from nodes.stages.custom_sampling import KSamplerSelect, SamplerCustom
    from runtime.sampling.noise import SeededNoise

    torch.manual_seed(3)
    context, negative = torch.randn(1, TOKENS, CONTEXT), torch.randn(1, negative_tokens, CONTEXT)
    latent = {"samples": torch.zeros(1, 16, 8, 6)}
    sigmas = torch.tensor([1.0, 0.8, 0.55, 0.3, 0.0])
    (sampler,) = KSamplerSelect().get_sampler("euler")
    (ours, _) = SamplerCustom().sample(model, True, 7, 3.5, [[context, {}]], [[negative, {}]], sampler, sigmas,
                                       latent)

    noise = SeededNoise(7).generate_noise(latent)
    packed, _ = flux.pack(noise)
    pipe = ChromaPipeline(scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), vae=None, text_encoder=None,
                          tokenizer=None, transformer=network)
    theirs = pipe(prompt_embeds=context, negative_prompt_embeds=negative,
                  prompt_attention_mask=torch.ones(1, TOKENS),
                  negative_prompt_attention_mask=torch.ones(1, negative_tokens),
                  latents=packed, height=64, width=48, sigmas=sigmas[:-1].tolist(), num_inference_steps=4,
                  guidance_scale=3.5, output_type="latent", return_dict=False)[0]
    return ours["samples"], model.latent_format.process_out(flux.unpack(theirs, 8, 6))


@pytest.mark.parametrize("negative_tokens", [TOKENS, 4])  # unpadded T5: a negative prompt may be shorter
def test_euler_sampling_with_real_cfg_equals_the_diffusers_chroma_pipeline(chroma_files, chroma_paths,
                                                                           negative_tokens):
    model = built(chroma_files)
    ours, theirs = sample_both(model, chroma_files["network"], negative_tokens)
    assert torch.allclose(ours, theirs, atol=1e-3)


def test_chroma_declares_its_text_encoder_and_clip_type():
    family = families.get("chroma")
    assert family.label == "Chroma" and family.vae_prefix == "vae." and "chroma" in families.clip_types()
    assert [e.name for e in family.text_encoders] == ["t5xxl"]
    assert family.text_encoder("t5xxl").checkpoint_prefixes == (("text_encoders.t5xxl.transformer.", "hf"),)
    assert family.latent_format is families.get("flux").latent_format
    assert families.for_clip_type("chroma", ["t5xxl"]) is family
