"""CLIPVisionLoader / CLIPVisionEncode against transformers' CLIPVisionModelWithProjection, unCLIPConditioning,
SDXL revision pooling and the style model, on tiny random models in the real file layouts."""

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from runtime.weights.files import ModelFileError
from nodes.stages.clip_vision import (CLIPVisionEncode, CLIPVisionLoader, StyleModelApply, StyleModelLoader,
                                      unCLIPConditioning)
from tests.nodes.catalogue.tiny_catalogue import write_vision

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def reference_pixels(image, crop):
    """Resize like CLIP's image processor (short side to 32 then centre 32×32, or squash), 8-bit, normalise."""
    x = image.movedim(-1, 1)
    h, w = x.shape[-2:]
    if crop:
        size = (32, round(w * 32 / h)) if h <= w else (round(h * 32 / w), 32)
    else:
        size = (32, 32)
    x = F.interpolate(x, size=size, mode="bicubic", antialias=True)
    top, left = (x.shape[-2] - 32) // 2, (x.shape[-1] - 32) // 2
    x = x[..., top:top + 32, left:left + 32]
    return ((x * 255).clamp(0, 255).round() / 255 - MEAN) / STD


@pytest.mark.parametrize("layout", ["hf", "openclip"])
@pytest.mark.parametrize("crop", ["center", "none"])
def test_encode_matches_transformers(folders, layout, crop):
    _, model = write_vision(folders.models_dir / "clip_vision", layout=layout)
    (vision,) = CLIPVisionLoader().load_clip("tiny_vision.safetensors")
    image = torch.rand(2, 40, 56, 3, generator=torch.Generator().manual_seed(1))
    (out,) = CLIPVisionEncode().encode(vision, image, crop)
    expected = model(pixel_values=reference_pixels(image, crop == "center"), output_hidden_states=True)
    torch.testing.assert_close(out.image_embeds, expected.image_embeds, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out["last_hidden_state"], expected.last_hidden_state, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.penultimate_hidden_states, expected.hidden_states[-2], atol=1e-5, rtol=1e-4)
    assert out.image_embeds.shape == (2, 16)
    assert out.__cache_size__() == (4 * (2 * 16 + 2 * 2 * 17 * 32), 0)  # embeds + two [2, 17, 32] hidden states


def test_crop_modes_differ_for_non_square_images(folders):
    write_vision(folders.models_dir / "clip_vision")
    (vision,) = CLIPVisionLoader().load_clip("tiny_vision.safetensors")
    image = torch.rand(1, 32, 64, 3, generator=torch.Generator().manual_seed(2))
    (center,) = CLIPVisionEncode().encode(vision, image, "center")
    (squashed,) = CLIPVisionEncode().encode(vision, image, "none")
    assert not torch.allclose(center.image_embeds, squashed.image_embeds)


def test_text_encoder_in_clip_vision_folder_is_refused_by_name(folders):
    from transformers import CLIPTextConfig, CLIPTextModel

    text = CLIPTextModel(CLIPTextConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=1, max_position_embeddings=77))
    folder = folders.models_dir / "clip_vision"
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in text.state_dict().items()}, str(folder / "clip_l.safetensors"))
    with pytest.raises(ModelFileError, match=r"CLIPVisionLoader: input 'clip_name' \(clip_l.safetensors\).*"
                                             r"text encoder, not a CLIP vision model"):
        CLIPVisionLoader().load_clip("clip_l.safetensors")


def test_missing_file_names_node_and_input(folders):
    with pytest.raises(FileNotFoundError, match="CLIPVisionLoader: input 'clip_name'"):
        CLIPVisionLoader().load_clip("absent.safetensors")


def fake_output(embeds):
    from runtime.conditioning.clip_vision import ClipVisionOutput

    hidden = torch.zeros(embeds.shape[0], 5, 8)
    return ClipVisionOutput(image_embeds=embeds, last_hidden_state=hidden, penultimate_hidden_states=hidden)


def test_unclip_conditioning_appends_and_strength_zero_passes_through():
    cond = [[torch.zeros(1, 77, 8), {"pooled_output": torch.ones(1, 8)}]]
    first, second = fake_output(torch.ones(1, 8)), fake_output(torch.zeros(1, 8))
    (one,) = unCLIPConditioning().apply_adm(cond, first, 0.5, 0.1)
    (two,) = unCLIPConditioning().apply_adm(one, second, 1.0, 0.0)
    assert [e["clip_vision_output"] for e in two[0][1]["unclip_conditioning"]] == [first, second]
    assert two[0][1]["unclip_conditioning"][0] == {"clip_vision_output": first, "strength": 0.5,
                                                   "noise_augmentation": 0.1}
    assert "unclip_conditioning" not in cond[0][1] and len(one[0][1]["unclip_conditioning"]) == 1
    assert unCLIPConditioning().apply_adm(cond, first, 0.0, 0.0)[0] is cond


def alpha_bar(level):
    """ᾱ at integer level of the squaredcos_cap_v2 schedule, from its product of (1 − β)."""
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    return math.prod(1 - min(1 - f((i + 1) / 1000) / f(i / 1000), 0.999) for i in range(level + 1))


def test_revision_pooled_vector_is_the_noised_weighted_embedding():
    from runtime.conditioning.clip_vision import unclip_pooled

    embeds = torch.randn(1, 8, generator=torch.Generator().manual_seed(3))
    entry = {"clip_vision_output": fake_output(embeds), "strength": 0.75, "noise_augmentation": 0.0}
    pooled = unclip_pooled([entry], 8, seed=42)
    noise = torch.randn(1, 8, generator=torch.Generator().manual_seed(32))
    a = alpha_bar(0)
    torch.testing.assert_close(pooled, 0.75 * (math.sqrt(a) * embeds + math.sqrt(1 - a) * noise))
    stronger = unclip_pooled([{**entry, "noise_augmentation": 0.5}], 8, seed=42)
    a = alpha_bar(500)
    torch.testing.assert_close(stronger, 0.75 * (math.sqrt(a) * embeds + math.sqrt(1 - a) * noise))
    with pytest.raises(ValueError, match="16-wide image embeddings, this model needs 8"):
        unclip_pooled([{**entry, "clip_vision_output": fake_output(torch.ones(1, 16))}], 8)


def test_sdxl_model_uses_unclip_embeddings_as_pooled_text(folders):
    from nodes.stages.loaders import CheckpointLoaderSimple
    from tests.tiny_models import G_WIDTH, write_tiny_sdxl

    from runtime.conditioning.clip_vision import unclip_pooled

    write_tiny_sdxl(folders.models_dir / "checkpoints", "xl.safetensors")
    model, _, _ = CheckpointLoaderSimple().load_checkpoint("xl.safetensors")
    embeds = torch.randn(2, G_WIDTH, generator=torch.Generator().manual_seed(4))
    unclip = [{"clip_vision_output": fake_output(embeds), "strength": 1.0, "noise_augmentation": 0.0}]
    options = {"pooled_output": torch.zeros(1, G_WIDTH), "unclip_conditioning": unclip}
    extras = model.extra_conds(options, (1, 4, 8, 8))
    torch.testing.assert_close(extras["text_embeds"], unclip_pooled(unclip, G_WIDTH))
    assert extras["text_embeds"].abs().sum() > 0


def write_style_model(folder, width=32, context=24, tokens=3, layers=2, seed=5):
    from runtime.conditioning.style_model import StyleAdapter

    torch.manual_seed(seed)
    adapter = StyleAdapter(width, context, tokens, layers)
    for parameter in adapter.parameters():
        torch.nn.init.normal_(parameter, std=0.2)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in adapter.state_dict().items()}, str(folder / "style.safetensors"))
    return adapter.state_dict()


def reference_style(state, hidden, heads=1):
    """The coadapter-style forward written out with plain tensor ops."""
    def layer_norm(x, name):
        return F.layer_norm(x, x.shape[-1:], state[name + ".weight"], state[name + ".bias"])

    tokens = state["style_embedding"].shape[1]
    x = torch.cat([hidden, state["style_embedding"].expand(hidden.shape[0], -1, -1)], dim=1)
    x = layer_norm(x, "ln_pre")
    layer = 0
    while f"transformer_layes.{layer}.ln_1.weight" in state:
        p = f"transformer_layes.{layer}."
        h = layer_norm(x, p + "ln_1")
        q, k, v = F.linear(h, state[p + "attn.in_proj_weight"], state[p + "attn.in_proj_bias"]).chunk(3, dim=-1)
        attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1) @ v
        x = x + F.linear(attn, state[p + "attn.out_proj.weight"], state[p + "attn.out_proj.bias"])
        h = F.linear(layer_norm(x, p + "ln_2"), state[p + "mlp.c_fc.weight"], state[p + "mlp.c_fc.bias"])
        x = x + F.linear(h * torch.sigmoid(1.702 * h), state[p + "mlp.c_proj.weight"], state[p + "mlp.c_proj.bias"])
        layer += 1
    return layer_norm(x[:, -tokens:], "ln_post") @ state["proj"]


def test_style_model_tokens_are_appended_to_the_text(folders):
    state = write_style_model(folders.models_dir / "style_models")
    (style,) = StyleModelLoader().load_style_model("style.safetensors")
    hidden = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(6))
    vision = fake_output(torch.zeros(2, 4))
    vision.last_hidden_state = hidden
    text = torch.randn(1, 77, 24)
    (out,) = StyleModelApply().apply_stylemodel([[text, {"pooled_output": None}]], style, vision, 0.5, "multiply")
    expected = reference_style(state, hidden).flatten(0, 1).unsqueeze(0) * 0.5
    assert out[0][0].shape == (1, 77 + 6, 24)
    torch.testing.assert_close(out[0][0][:, :77], text)
    torch.testing.assert_close(out[0][0][:, 77:], expected, atol=1e-5, rtol=1e-4)
    (biased,) = StyleModelApply().apply_stylemodel([[text, {}]], style, vision, 0.5, "attn_bias")
    torch.testing.assert_close(biased[0][0][:, 77:], expected * 2, atol=1e-5, rtol=1e-4)  # tokens unscaled


def test_style_loader_refuses_other_files(folders):
    folder = folders.models_dir / "style_models"
    folder.mkdir(parents=True)
    save_file({"redux_up.weight": torch.zeros(2, 2)}, str(folder / "redux.safetensors"))
    with pytest.raises(ModelFileError, match=r"StyleModelLoader: input 'style_model_name'.*Flux Redux"):
        StyleModelLoader().load_style_model("redux.safetensors")


def test_unclip_checkpoint_loader_returns_the_embedded_vision_model(folders):
    from safetensors.torch import load_file

    from nodes.stages.clip_vision import unCLIPCheckpointLoader
    from tests.nodes.catalogue.tiny_catalogue import openclip_visual_layout, tiny_vision_model
    from tests.tiny_models import write_tiny_sd1

    tiny = write_tiny_sd1(folders.models_dir / "checkpoints", "plain.safetensors")
    vision = tiny_vision_model(seed=8)
    state = load_file(str(tiny.path))
    state.update({"embedder.model." + k: v for k, v in openclip_visual_layout(vision).items()})
    save_file(state, str(folders.models_dir / "checkpoints" / "unclip.safetensors"))
    model, clip, vae, clip_vision = unCLIPCheckpointLoader().load_checkpoint("unclip.safetensors")
    assert model.family == "sd1" and clip is not None and vae is not None
    image = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(9))
    (out,) = CLIPVisionEncode().encode(clip_vision, image, "center")
    torch.testing.assert_close(out.image_embeds, vision(pixel_values=reference_pixels(image, True)).image_embeds,
                               atol=1e-5, rtol=1e-4)
    with pytest.raises(ModelFileError, match=r"unCLIPCheckpointLoader: input 'ckpt_name' \(plain.safetensors\).*"
                                             r"no CLIP vision model embedded"):
        unCLIPCheckpointLoader().load_checkpoint("plain.safetensors")


def write_tiny_unclip(folder, seed=0):
    """A tiny SD2.1-unCLIP-style checkpoint: SD2 parts, a UNet with a projected image-vector input, an embedded
    OpenCLIP vision tower whose embeddings are as wide as the text context, and (like the real files) the noise
    augmentor's embedding statistics, here far from mean 0 / std 1."""
    from diffusers import UNet2DConditionModel

    from tests.nodes.catalogue.tiny_catalogue import openclip_visual_layout, tiny_vision_model
    from tests.tiny_models import H_WIDTH, build_tiny, tiny_unet_config, unet_original

    state, components = build_tiny("sd2", seed)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**tiny_unet_config("sd2"), class_embed_type="projection",
                                projection_class_embeddings_input_dim=2 * H_WIDTH).eval().requires_grad_(False)
    state = {k: v for k, v in state.items() if not k.startswith("model.diffusion_model.")}
    state.update({"model.diffusion_model." + k: v for k, v in unet_original(unet).items()})
    vision = tiny_vision_model(seed=seed + 5, projection_dim=H_WIDTH, width=H_WIDTH)
    state.update({"embedder.model." + k: v for k, v in openclip_visual_layout(vision).items()})
    state["noise_augmentor.data_mean"] = torch.full((1, H_WIDTH), 3.0)
    state["noise_augmentor.data_std"] = torch.full((1, H_WIDTH), 5.0)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "unclip.safetensors"))
    return unet, vision


def test_sd2_unclip_model_takes_the_noised_image_vector_as_class_input(folders):
    from nodes.stages.clip_vision import unCLIPCheckpointLoader

    unet, vision = write_tiny_unclip(folders.models_dir / "checkpoints")
    model, clip, _, clip_vision = unCLIPCheckpointLoader().load_checkpoint("unclip.safetensors")
    assert model.family == "sd2" and model.unet.config.class_embed_type == "projection"
    image = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(10))
    (encoded,) = CLIPVisionEncode().encode(clip_vision, image, "none")
    (conditioning,) = unCLIPConditioning().apply_adm(clip.encode("a cat"), encoded, 0.8, 0.25)
    context, options = conditioning[0]
    extras = model.extra_conds(options, (1, 4, 8, 8))
    # independent: ᾱ at level round(999·0.25) = 250, sinusoidal embedding cos ⊕ sin, noise from seed 0; the
    # embeddings are noised as they are: ComfyUI never loads the checkpoint's noise_augmentor statistics
    embeds = vision(pixel_values=reference_pixels(image, False)).image_embeds
    a = alpha_bar(250)
    noise = torch.randn(embeds.shape, generator=torch.Generator().manual_seed(0))
    freqs = torch.exp(-math.log(10000) * torch.arange(embeds.shape[-1] // 2) / (embeds.shape[-1] // 2))
    level = torch.cat([torch.cos(250 * freqs), torch.sin(250 * freqs)])[None]
    expected = 0.8 * torch.cat([math.sqrt(a) * embeds + math.sqrt(1 - a) * noise, level], dim=1)
    torch.testing.assert_close(extras["class_labels"], expected, atol=1e-5, rtol=1e-4)

    x, timestep = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(11)), torch.tensor([300.0])
    ours = model.unet_forward(x, timestep, context, extras)
    reference = unet(x, timestep, encoder_hidden_states=context, class_labels=expected).sample
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)
    # without an image prompt the class input is zero
    plain = model.extra_conds(clip.encode("a cat")[0][1], (1, 4, 8, 8))["class_labels"]
    assert plain.shape == (1, 128) and not plain.any()


def test_the_sampler_seed_minus_10_seeds_the_noise_augmentation(folders, monkeypatch):
    from runtime.conditioning import clip_vision
    from nodes.stages.clip_vision import unCLIPCheckpointLoader
    from nodes.stages.sampling import KSampler

    write_tiny_unclip(folders.models_dir / "checkpoints")
    model, clip, _, vision = unCLIPCheckpointLoader().load_checkpoint("unclip.safetensors")
    image = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(13))
    (encoded,) = CLIPVisionEncode().encode(vision, image, "none")
    (positive,) = unCLIPConditioning().apply_adm(clip.encode("a cat"), encoded, 1.0, 0.3)
    seen = []
    original = clip_vision.unclip_adm

    def spy(conditioning, width, seed=None, **kwargs):
        seen.append(seed)
        return original(conditioning, width, seed, **kwargs)
    monkeypatch.setattr(clip_vision, "unclip_adm", spy)
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    KSampler().sample(model, 1234, 1, 1.0, "euler", "normal", positive, clip.encode(""), latent, 1.0)
    assert seen and set(seen) == {1234}  # unclip_adm draws with seed − 10, checked below
    embeds = encoded.image_embeds.float()
    noise = torch.randn(embeds.shape, generator=torch.Generator().manual_seed(1224))
    a = alpha_bar(round(999 * 0.3))
    vector = original(positive[0][1]["unclip_conditioning"], embeds.shape[-1], 1234)
    torch.testing.assert_close(vector[:, :embeds.shape[-1]], math.sqrt(a) * embeds + math.sqrt(1 - a) * noise,
                               atol=1e-5, rtol=1e-4)


def test_several_image_prompts_are_summed_and_noised_again():
    from runtime.conditioning.clip_vision import unclip_adm, unclip_pooled

    first, second = torch.randn(1, 8, generator=torch.Generator().manual_seed(12)), torch.ones(1, 8)
    entries = [{"clip_vision_output": fake_output(e), "strength": s, "noise_augmentation": 0.0}
               for e, s in ((first, 0.5), (second, 2.0))]
    # ComfyUI seeds with the sampler seed − 10 before every image's draw, so each image gets the same noise; the
    # merge draws the generator's next noise
    generator = torch.Generator().manual_seed(42)
    noise, merge_noise = torch.randn(1, 8, generator=generator), torch.randn(1, 8, generator=generator)
    a0 = alpha_bar(0)
    summed = sum(s * (math.sqrt(a0) * e + math.sqrt(1 - a0) * noise) for e, s in ((first, 0.5), (second, 2.0)))
    torch.testing.assert_close(unclip_pooled(entries, 8, seed=52),
                               math.sqrt(a0) * summed + math.sqrt(1 - a0) * merge_noise, atol=1e-4, rtol=1e-5)
    a50 = alpha_bar(50)  # SD2.1 unCLIP merges at noise level round(999 · 0.05)
    merged = unclip_adm(entries, 8, seed=52)
    torch.testing.assert_close(merged[:, :8], math.sqrt(a50) * summed + math.sqrt(1 - a50) * merge_noise,
                               atol=1e-4, rtol=1e-5)
    assert merged.shape == (1, 16)
