"""Flux.1 as a family: a tiny transformer written in Black Forest Labs' layout (bare and under
`model.diffusion_model.`) and in diffusers' loads through UNETLoader, is configured from its shapes, calls the
network like the diffusers module, and samples like diffusers' FluxPipeline."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from runtime import families
from runtime.networks import flux

CONTEXT, POOLED, TOKENS = 32, 24, 7
HIDDEN, HEAD = 64, 32  # two 32-wide heads: RoPE axes (4, 14, 14)


def tiny_flux(guidance: bool, seed: int = 0):
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(seed)
    network = FluxTransformer2DModel(in_channels=64, num_layers=2, num_single_layers=2, attention_head_dim=HEAD,
                                     num_attention_heads=HIDDEN // HEAD, joint_attention_dim=CONTEXT,
                                     pooled_projection_dim=POOLED, guidance_embeds=guidance,
                                     axes_dims_rope=(4, 14, 14)).eval()
    with torch.no_grad():  # diffusers zero-initialises nothing here, but make every weight count in comparisons
        for param in network.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    return network


def contiguous(state: dict) -> dict:
    return {k: v.contiguous() for k, v in state.items()}


@pytest.fixture(scope="module")
def flux_files(tmp_path_factory):
    dev, schnell = tiny_flux(guidance=True), tiny_flux(guidance=False, seed=1)
    base = tmp_path_factory.mktemp("flux_base")
    folder = base / "models" / "diffusion_models"
    folder.mkdir(parents=True)
    bfl = flux.from_diffusers(dev.state_dict())
    save_file(contiguous(bfl), str(folder / "flux_dev.safetensors"))
    save_file(contiguous({"model.diffusion_model." + k: v for k, v in bfl.items()}),
              str(folder / "flux_dev_prefixed.safetensors"))
    save_file(contiguous(dev.state_dict()), str(folder / "flux_dev_diffusers.safetensors"))
    save_file(contiguous(flux.from_diffusers(schnell.state_dict())), str(folder / "flux_schnell.safetensors"))
    incomplete = {k: v for k, v in bfl.items() if k != "double_blocks.1.img_mlp.2.weight"}
    save_file(contiguous(incomplete), str(folder / "flux_incomplete.safetensors"))
    partial = {k: v for k, v in dev.state_dict().items() if k != "transformer_blocks.0.attn.to_k.weight"}
    save_file(contiguous(partial), str(folder / "flux_incomplete_diffusers.safetensors"))
    whole = (folder / "flux_dev.safetensors").read_bytes()
    (folder / "flux_truncated.safetensors").write_bytes(whole[:len(whole) // 2])
    save_file({"input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3)}, str(folder / "other.safetensors"))
    return {"base": base, "dev": dev, "schnell": schnell, "bfl": bfl}


@pytest.fixture
def flux_paths(flux_files):
    import runtime

    with runtime.configured(paths=runtime.Paths.create(flux_files["base"])) as settings:
        yield settings.paths


def load(name):
    from nodes.stages.loaders import UNETLoader

    return UNETLoader().load_unet(name, "default")[0]


def bfl_names(double: int, single: int, guidance: bool) -> set:
    """Every key of a BFL Flux.1 file (flux1-dev.safetensors' list, spec families.md §1(e))."""
    def linear(name):
        return {f"{name}.weight", f"{name}.bias"}

    names = set()
    for name in ("img_in", "txt_in", "time_in.in_layer", "time_in.out_layer", "vector_in.in_layer",
                 "vector_in.out_layer", "final_layer.linear", "final_layer.adaLN_modulation.1"):
        names |= linear(name)
    if guidance:
        names |= linear("guidance_in.in_layer") | linear("guidance_in.out_layer")
    for i in range(double):
        for stream in ("img", "txt"):
            block = f"double_blocks.{i}.{stream}"
            names |= linear(f"{block}_mod.lin") | linear(f"{block}_attn.qkv") | linear(f"{block}_attn.proj")
            names |= linear(f"{block}_mlp.0") | linear(f"{block}_mlp.2")
            names |= {f"{block}_attn.norm.query_norm.scale", f"{block}_attn.norm.key_norm.scale"}
    for i in range(single):
        block = f"single_blocks.{i}"
        names |= linear(f"{block}.linear1") | linear(f"{block}.linear2") | linear(f"{block}.modulation.lin")
        names |= {f"{block}.norm.query_norm.scale", f"{block}.norm.key_norm.scale"}
    return names


def test_the_bfl_layout_has_the_real_key_names_and_converts_back_exactly(flux_files):
    dev = flux_files["dev"]
    assert set(flux_files["bfl"]) == bfl_names(2, 2, guidance=True)
    assert set(flux.from_diffusers(flux_files["schnell"].state_dict())) == bfl_names(2, 2, guidance=False)
    # fused projections: rows q, k, v (then the single blocks' MLP input)
    qkv = flux_files["bfl"]["double_blocks.1.txt_attn.qkv.weight"]
    assert torch.equal(qkv[HIDDEN:2 * HIDDEN], dev.state_dict()["transformer_blocks.1.attn.add_k_proj.weight"])
    linear1 = flux_files["bfl"]["single_blocks.0.linear1.bias"]
    assert torch.equal(linear1[3 * HIDDEN:], dev.state_dict()["single_transformer_blocks.0.proj_mlp.bias"])
    back = flux.to_diffusers(flux_files["bfl"])
    assert back.keys() == dev.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in dev.state_dict().items())


def test_the_final_modulation_is_shift_then_scale_in_the_bfl_layout(flux_files):
    """BFL's last layer: (shift, scale) = adaLN_modulation(vec); out = LayerNorm(x)·(1 + scale) + shift. diffusers'
    norm_out splits its linear the other way round; the conversion swaps the halves."""
    bfl, dev = flux_files["bfl"], flux_files["dev"]
    x, vec = torch.randn(1, 5, HIDDEN), torch.randn(1, HIDDEN)
    modulation = torch.nn.functional.silu(vec) @ bfl["final_layer.adaLN_modulation.1.weight"].T
    shift, scale = (modulation + bfl["final_layer.adaLN_modulation.1.bias"]).chunk(2, dim=1)
    expected = torch.nn.functional.layer_norm(x, (HIDDEN,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]
    with torch.no_grad():
        assert torch.allclose(dev.norm_out(x, vec), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["flux_dev.safetensors", "flux_dev_prefixed.safetensors",
                                  "flux_dev_diffusers.safetensors"])
def test_a_dev_transformer_loads_through_unet_loader_from_each_layout(flux_files, flux_paths, name):
    model = load(name)
    assert model.family == "flux" and type(model.unet).__name__ == "FluxTransformer2DModel"
    config = model.unet.config
    assert (config.num_layers, config.num_single_layers, config.num_attention_heads, config.attention_head_dim) \
        == (2, 2, 2, HEAD)
    assert (config.joint_attention_dim, config.pooled_projection_dim, config.guidance_embeds) == (CONTEXT, POOLED, True)
    assert tuple(config.axes_dims_rope) == (4, 14, 14)
    assert model.in_channels == 16 and model.latent_format.channels == 16
    assert (model.latent_format.scale_factor, model.latent_format.shift_factor) == (0.3611, 0.1159)
    assert len(model.latent_format.rgb_factors) == 16 and model.latent_format.rgb_bias == (-0.0329, -0.0718, -0.0851)
    assert model.model_sampling.prediction_type == "flow"
    assert type(model.model_sampling).__name__ == "FluxSampling"
    for key, value in flux_files["dev"].state_dict().items():
        assert torch.equal(model.unet.state_dict()[key], value), key


def reference(network, x, sigma, context, pooled, guidance):
    """The diffusers module called directly on packed latents (the pipeline's packing and ids)."""
    batch, channels, height, width = x.shape
    tokens = x.reshape(batch, channels, height // 2, 2, width // 2, 2).permute(0, 2, 4, 1, 3, 5)
    tokens = tokens.reshape(batch, -1, channels * 4)
    ids = torch.zeros(height // 2, width // 2, 3)
    ids[..., 1] += torch.arange(height // 2)[:, None]
    ids[..., 2] += torch.arange(width // 2)[None, :]
    with torch.no_grad():
        out = network(hidden_states=tokens, encoder_hidden_states=context, pooled_projections=pooled,
                      timestep=sigma, img_ids=ids.reshape(-1, 3), txt_ids=torch.zeros(context.shape[1], 3),
                      guidance=guidance, return_dict=False)[0]
    out = out.reshape(batch, height // 2, width // 2, channels, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return out.reshape(batch, channels, height, width)


def test_the_model_calls_the_network_like_the_diffusers_module(flux_files, flux_paths):
    model, network = load("flux_dev.safetensors"), flux_files["dev"]
    x, context, pooled = torch.randn(2, 16, 6, 8), torch.randn(2, TOKENS, CONTEXT), torch.randn(1, POOLED)
    extras = model.extra_conds({"pooled_output": pooled}, x.shape)
    assert torch.equal(extras["pooled_projections"], pooled) and extras["guidance"].tolist() == [3.5]
    assert model.extra_conds({"pooled_output": pooled, "guidance": None}, x.shape).keys() == {"pooled_projections"}
    assert torch.equal(model.extra_conds({}, x.shape)["pooled_projections"], torch.zeros(1, POOLED))
    sigma = torch.tensor([0.7, 0.7])
    batched = {"pooled_projections": pooled.expand(2, -1), "guidance": torch.tensor([4.0, 4.0])}
    ours = model.unet_forward(x, sigma, context, batched)
    theirs = reference(network, x, sigma, context, pooled.expand(2, -1), torch.tensor([4.0, 4.0]))
    assert torch.allclose(ours, theirs, atol=1e-5)

    # odd sizes are padded circularly at the bottom and right, and cut back
    odd = torch.randn(1, 16, 5, 7)
    padded = torch.nn.functional.pad(odd, (0, 1, 0, 1), mode="circular")
    ours = model.unet_forward(odd, sigma[:1], context[:1], {"pooled_projections": pooled,
                                                            "guidance": torch.tensor([3.5])})
    theirs = reference(network, padded, sigma[:1], context[:1], pooled, torch.tensor([3.5]))
    assert ours.shape == odd.shape and torch.allclose(ours, theirs[:, :, :5, :7], atol=1e-5)


def test_schnell_has_no_guidance_and_samples_on_plain_flow(flux_files, flux_paths):
    model = load("flux_schnell.safetensors")
    assert model.family == "flux" and not model.unet.config.guidance_embeds
    assert type(model.model_sampling).__name__ == "FlowSampling"
    extras = model.extra_conds({"guidance": 3.5}, (1, 16, 4, 4))
    assert extras.keys() == {"pooled_projections"}
    x, context = torch.randn(1, 16, 4, 4), torch.randn(1, TOKENS, CONTEXT)
    ours = model.unet_forward(x, torch.tensor([0.5]), context, extras)
    theirs = reference(flux_files["schnell"], x, torch.tensor([0.5]), context, torch.zeros(1, POOLED), None)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_euler_sampling_equals_the_diffusers_flux_pipeline(flux_files, flux_paths):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline

    from nodes.stages.custom_sampling import KSamplerSelect, SamplerCustom
    from runtime.sampling.noise import SeededNoise

    model, network = load("flux_dev.safetensors"), flux_files["dev"]
    torch.manual_seed(3)
    context, pooled = torch.randn(1, TOKENS, CONTEXT), torch.randn(1, POOLED)
    positive = [[context, {"pooled_output": pooled, "guidance": 3.5}]]
    negative = [[torch.zeros_like(context), {"pooled_output": torch.zeros_like(pooled)}]]
    latent = {"samples": torch.zeros(1, 16, 8, 6)}
    sigmas = torch.tensor([1.0, 0.8, 0.55, 0.3, 0.0])
    (sampler,) = KSamplerSelect().get_sampler("euler")
    (ours, _) = SamplerCustom().sample(model, True, 7, 1.0, positive, negative, sampler, sigmas, latent)

    noise = SeededNoise(7).generate_noise(latent)
    packed, _ = flux.pack(noise)
    pipe = FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), vae=None, text_encoder=None,
                        tokenizer=None, text_encoder_2=None, tokenizer_2=None, transformer=network)
    theirs = pipe(prompt_embeds=context, pooled_prompt_embeds=pooled, latents=packed, height=64, width=48,
                  sigmas=sigmas[:-1].tolist(), num_inference_steps=4, guidance_scale=3.5, output_type="latent",
                  return_dict=False)[0]
    theirs = model.latent_format.process_out(flux.unpack(theirs, 8, 6))
    assert torch.allclose(ours["samples"], theirs, atol=1e-3)


def test_kontext_reference_latents_are_extra_image_tokens_whose_outputs_are_dropped(flux_files, flux_paths):
    model, network = load("flux_dev.safetensors"), flux_files["dev"]
    x, context, pooled = torch.randn(1, 16, 4, 6), torch.randn(1, TOKENS, CONTEXT), torch.randn(1, POOLED)
    reference_raw = torch.randn(1, 16, 6, 4)
    extras = model.extra_conds({"pooled_output": pooled, "reference_latents": [reference_raw]}, x.shape)
    ours = model.unet_forward(x, torch.tensor([0.6]), context, extras)

    # diffusers' Kontext convention for one reference: its tokens after the image's, ids (1, row, column)
    image, image_ids = flux.pack(x)
    reference, reference_ids = flux.pack(model.latent_format.process_in(reference_raw))
    reference_ids[:, 0] = 1
    with torch.no_grad():
        out = network(hidden_states=torch.cat([image, reference], 1), encoder_hidden_states=context,
                      pooled_projections=pooled, timestep=torch.tensor([0.6]), guidance=torch.tensor([3.5]),
                      img_ids=torch.cat([image_ids, reference_ids]), txt_ids=torch.zeros(TOKENS, 3),
                      return_dict=False)[0]
    assert torch.allclose(ours, flux.unpack(out[:, :image.shape[1]], 4, 6), atol=1e-5)
    assert not torch.allclose(ours, model.unet_forward(x, torch.tensor([0.6]), context,
                                                       model.extra_conds({"pooled_output": pooled}, x.shape)))

    # "offset": a second reference goes below the first when that keeps the canvas squarer, else beside it
    _, ids = flux.reference_tokens([torch.zeros(1, 16, 4, 6), torch.zeros(1, 16, 4, 4), torch.zeros(1, 16, 8, 2)])
    first, second, third = ids[:6], ids[6:10], ids[10:]
    assert (ids[:, 0] == 1).all()
    assert first[:, 1].min() == 0 and first[:, 2].min() == 0
    assert second[:, 1].min() == 2 and second[:, 2].min() == 0  # below: rows 4 latent pixels (2 patches) down
    assert third[:, 1].min() == 0 and third[:, 2].min() == 3  # beside: columns 6 latent pixels (3 patches) right
    # and the sampler batches them like any other extra (CFG: a reference on the positive side only)
    from nodes.stages.custom_sampling import KSamplerSelect, SamplerCustom

    positive = [[context, {"pooled_output": pooled, "reference_latents": [reference_raw]}]]
    negative = [[torch.zeros_like(context), {"pooled_output": torch.zeros_like(pooled)}]]
    (sampler,) = KSamplerSelect().get_sampler("euler")
    (sampled, _) = SamplerCustom().sample(model, True, 1, 2.0, positive, negative, sampler,
                                          torch.tensor([1.0, 0.5, 0.0]), {"samples": torch.zeros(2, 16, 4, 6)})
    assert sampled["samples"].shape == (2, 16, 4, 6) and torch.isfinite(sampled["samples"]).all()
    with pytest.raises(ValueError, match="reference_latents_method 'index' is not supported"):
        model.extra_conds({"reference_latents": [reference_raw], "reference_latents_method": "index"}, x.shape)


def test_files_that_are_not_a_whole_flux_transformer_get_a_clear_error(flux_files, flux_paths):
    from runtime.weights.files import ModelFileError

    with pytest.raises(ModelFileError, match=r"flux_incomplete\.safetensors.*1 missing.*transformer_blocks\.1\.ff"):
        load("flux_incomplete.safetensors")
    with pytest.raises(ModelFileError, match=r"flux_incomplete_diffusers\.safetensors.*3 missing.*attn\.to_k"):
        load("flux_incomplete_diffusers.safetensors")
    with pytest.raises(ModelFileError, match=r"flux_truncated\.safetensors"):
        load("flux_truncated.safetensors")
    with pytest.raises(ModelFileError, match="other.safetensors: could not detect the model type"):
        load("other.safetensors")


def test_flux_declares_its_text_encoders_and_clip_type():
    family = families.get("flux")
    assert family.label == "Flux.1" and family.vae_prefix == "vae." and "flux" in families.clip_types()
    assert [e.name for e in family.text_encoders] == ["l", "t5xxl"]
    assert family.text_encoder("t5xxl").checkpoint_prefixes == (("text_encoders.t5xxl.transformer.", "hf"),)
    assert np.allclose(family.latent_format.process_in(torch.tensor([1.0])), (1.0 - 0.1159) * 0.3611)


def test_a_flux_style_16_channel_vae_file_loads_through_vae_loader(tmp_path):
    """`ae.safetensors` as users have it: LDM key names, 16 latent channels, no quant convolutions."""
    import runtime
    from diffusers import AutoencoderKL
    from safetensors.torch import save_file

    from nodes.stages.loaders import VAELoader
    from tiny_models import tiny_vae_config, vae_original

    torch.manual_seed(0)
    reference = AutoencoderKL(**dict(tiny_vae_config("sd1"), latent_channels=16, use_quant_conv=False,
                                     use_post_quant_conv=False)).eval()
    (tmp_path / "models" / "vae").mkdir(parents=True)
    state = {k: v.contiguous() for k, v in vae_original(reference).items()}
    assert not any("quant_conv" in k for k in state) and state["decoder.conv_in.weight"].shape[1] == 16
    save_file(state, str(tmp_path / "models" / "vae" / "ae.safetensors"))
    with runtime.configured(paths=runtime.Paths.create(tmp_path)):
        (vae,) = VAELoader().load_vae("ae.safetensors")
    assert (vae.latent_channels, vae.downscale_ratio) == (16, 8)
    image = torch.rand(1, 32, 48, 3, generator=torch.Generator().manual_seed(1))
    latent = vae.encode(image)
    expected = reference.encode(image.movedim(-1, 1) * 2 - 1).latent_dist.mode()
    torch.testing.assert_close(latent, expected, atol=1e-5, rtol=1e-5)
    decoded = vae.decode(latent)
    torch.testing.assert_close(decoded, ((reference.decode(latent).sample + 1) / 2).clamp(0, 1).movedim(1, -1),
                               atol=1e-5, rtol=1e-5)
