"""LoraLoader gives the same UNet and text encoder as diffusers' `load_lora_weights` + `fuse_lora` (kohya with
original- and diffusers-layout names, PEFT, LoCon) and as the spec §9.4 formulas for LyCORIS LoHa and LoKr."""

import copy

import pytest
import torch

STRENGTH_MODEL, STRENGTH_CLIP = 0.7, 0.6
PROMPT = "a (red:1.2) square on a blue background"


def unet_inputs(family: str):
    generator = torch.Generator().manual_seed(3)
    context = {"sd1": 32, "sd2": 64, "sdxl": 96}[family]
    x = torch.randn(2, 4, 8, 8, generator=generator)
    t = torch.tensor([700.0, 300.0])
    ctx = torch.randn(2, 77, context, generator=generator)
    extras = {}
    if family == "sdxl":
        extras = {"text_embeds": torch.randn(2, 64, generator=generator),
                  "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]] * 2)}
    return x, t, ctx, extras


def reference_output(unet, family):
    x, t, ctx, extras = unet_inputs(family)
    with torch.no_grad():
        return unet(x, t, encoder_hidden_states=ctx, added_cond_kwargs=extras or None).sample


def our_output(model, family):
    x, t, ctx, extras = unet_inputs(family)
    return model.unet_forward(x, t, ctx, extras)


def encoders_of(components: dict, family: str) -> dict:
    first = "h" if family == "sd2" else "l"
    return {slot: components[key] for slot, key in ((first, "text_encoder"), ("g", "text_encoder_2"))
            if key in components}


def reference_encoding(family, encoders):
    """Our text-encoding code run on the given (diffusers, LoRA-fused) transformers encoders."""
    from runtime.text.encoder import TextEncoder, make_slots

    clip = TextEncoder(make_slots(family, encoders), family)
    return clip.encode_from_tokens(clip.tokenize(PROMPT))


def apply_node(tiny_models_paths, model, clip, name, strength_model=STRENGTH_MODEL, strength_clip=STRENGTH_CLIP):
    from nodes.stages.lora import LoraLoader

    return LoraLoader().load_lora(model, clip, name, strength_model, strength_clip)


def diffusers_fused(tiny, path, family):
    """The tiny model's diffusers components (copies) with the LoRA loaded and fused by diffusers."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
    from safetensors.torch import load_file

    components = copy.deepcopy(tiny.pipeline_components())
    if family == "sdxl":
        pipe = StableDiffusionXLPipeline(**components, scheduler=EulerDiscreteScheduler())
    else:
        pipe = StableDiffusionPipeline(**components, scheduler=EulerDiscreteScheduler(), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    pipe.load_lora_weights(load_file(str(path)))
    pipe.fuse_lora(lora_scale=STRENGTH_MODEL, components=["unet"])
    pipe.fuse_lora(lora_scale=STRENGTH_CLIP, components=[k for k in ("text_encoder", "text_encoder_2")
                                                          if k in components])
    return components


@pytest.mark.parametrize("family, fmt", [("sd1", "kohya"), ("sd1", "peft"), ("sd1", "locon"), ("sd2", "kohya"),
                                         ("sd2", "peft"), ("sdxl", "kohya_ldm"), ("sdxl", "kohya"), ("sdxl", "peft")])
def test_lora_equals_diffusers_load_lora_weights(tiny_families, tiny_loras, tiny_models_paths, loaded, family, fmt):
    tiny = tiny_families[family]
    model, clip = loaded(family)
    patched_model, patched_clip = apply_node(tiny_models_paths, model, clip, tiny_loras[(family, fmt)])
    reference = diffusers_fused(tiny, tiny_models_paths.get_full_path("loras", tiny_loras[(family, fmt)]), family)

    ours, theirs = our_output(patched_model, family), reference_output(reference["unet"], family)
    assert float((ours - theirs).abs().max()) < 1e-4
    assert float((ours - our_output(model, family)).abs().max()) > 1e-2  # the LoRA changed something

    (cond, pooled), (ref_cond, ref_pooled) = (patched_clip.encode_from_tokens(patched_clip.tokenize(PROMPT)),
                                              reference_encoding(family, encoders_of(reference, family)))
    assert float((cond - ref_cond).abs().max()) < 1e-4
    assert float((pooled - ref_pooled).abs().max()) < 1e-4
    unpatched = clip.encode_from_tokens(clip.tokenize(PROMPT))[0]
    assert float((cond - unpatched).abs().max()) > 1e-2


def test_kohya_original_and_diffusers_names_patch_the_same_weights(tiny_loras, tiny_models_paths, loaded):
    # both files hold the same tensors (same seed, same module order); only the module names differ
    model, clip = loaded("sd1")
    by_diffusers_names = apply_node(tiny_models_paths, model, clip, tiny_loras[("sd1", "kohya")])[0]
    by_original_names = apply_node(tiny_models_paths, model, clip, tiny_loras[("sd1", "kohya_ldm")])[0]
    assert torch.equal(our_output(by_diffusers_names, "sd1"), our_output(by_original_names, "sd1"))
    assert len(by_original_names.patches) == len(by_diffusers_names.patches) > 0


def lycoris_delta(parts: dict, shape) -> torch.Tensor:
    """ΔW of one module per spec §9.4, written out independently of the loader (no Tucker factors)."""
    if "hada_w1_a" in parts:
        rank = parts["hada_w1_b"].shape[0]
        delta = (parts["hada_w1_a"] @ parts["hada_w1_b"]) * (parts["hada_w2_a"] @ parts["hada_w2_b"])
    else:
        rank = parts["lokr_w2_b"].shape[0]
        delta = torch.kron(parts["lokr_w1"], parts["lokr_w2_a"] @ parts["lokr_w2_b"])
    return (delta * float(parts["alpha"]) / rank).reshape(shape)


def fuse_by_hand(tiny, path):
    """Copies of the tiny UNet / text encoders with W += strength · ΔW for every module of a kohya-named file."""
    from safetensors.torch import load_file

    components = copy.deepcopy(tiny.pipeline_components())
    groups = {}
    for key, value in load_file(str(path)).items():
        module, _, role = key.rpartition(".")
        groups.setdefault(module, {})[role] = value
    targets = [("lora_unet_", components["unet"], STRENGTH_MODEL)]
    targets += [(prefix, components[key], STRENGTH_CLIP) for prefix, key in
                (("lora_te_", "text_encoder"), ("lora_te1_", "text_encoder"), ("lora_te2_", "text_encoder_2"))
                if key in components]
    patched = 0
    for prefix, network, strength in targets:
        for name, module in network.named_modules():
            parts = groups.get(prefix + name.replace(".", "_"))
            if parts is not None and hasattr(module, "weight"):
                with torch.no_grad():
                    module.weight += strength * lycoris_delta(parts, module.weight.shape)
                patched += 1
    assert patched == len(groups)
    return components


@pytest.mark.parametrize("family, fmt", [("sd1", "loha"), ("sd1", "lokr"), ("sdxl", "loha")])
def test_lycoris_equals_the_spec_formula(tiny_checkpoints, tiny_loras, tiny_models_paths, loaded, family, fmt):
    tiny = tiny_checkpoints[family]
    model, clip = loaded(family)
    patched_model, patched_clip = apply_node(tiny_models_paths, model, clip, tiny_loras[(family, fmt)])
    reference = fuse_by_hand(tiny, tiny_models_paths.get_full_path("loras", tiny_loras[(family, fmt)]))

    ours = our_output(patched_model, family)
    assert float((ours - reference_output(reference["unet"], family)).abs().max()) < 1e-4
    assert float((ours - our_output(model, family)).abs().max()) > 1e-2
    cond = patched_clip.encode_from_tokens(patched_clip.tokenize(PROMPT))[0]
    assert float((cond - reference_encoding(family, encoders_of(reference, family))[0]).abs().max()) < 1e-4


def test_tucker_factors_equal_the_convolutions_they_stand_for():
    # LoCon's lora_mid and LoHa's hada_t: ΔW must act like down (1×1) → mid (k×k) → up (1×1) convolutions
    from runtime.lora.patches import LohaDelta, LoraDelta

    g = torch.Generator().manual_seed(0)
    rank, cin, cout = 3, 5, 6
    down, mid, up = (torch.randn(rank, cin, 1, 1, generator=g), torch.randn(rank, rank, 3, 3, generator=g),
                     torch.randn(cout, rank, 1, 1, generator=g))
    x = torch.randn(1, cin, 7, 7, generator=g)
    weight = torch.zeros(cout, cin, 3, 3)
    composed = torch.nn.functional.conv2d(torch.nn.functional.conv2d(torch.nn.functional.conv2d(x, down), mid,
                                                                     padding=1), up)
    delta = LoraDelta({"up": up, "down": down, "mid": mid, "alpha": torch.tensor(6.0)})
    assert torch.allclose(torch.nn.functional.conv2d(x, delta(weight), padding=1), composed * 6.0 / rank, atol=1e-4)

    # LoHa with Tucker cores: each factor is t ×₀ w_a ×₁ w_b; the product is elementwise
    a1, b1, t1 = torch.randn(rank, cout, generator=g), torch.randn(rank, cin, generator=g), torch.randn(
        rank, rank, 3, 3, generator=g)
    a2, b2, t2 = torch.randn(rank, cout, generator=g), torch.randn(rank, cin, generator=g), torch.randn(
        rank, rank, 3, 3, generator=g)

    def factor(a, b, t):  # W[p, r, k, l] = Σ_ij t[i, j, k, l] a[i, p] b[j, r]
        return sum(t[i, j][None, None] * a[i][:, None, None, None] * b[j][None, :, None, None]
                   for i in range(rank) for j in range(rank))
    loha = LohaDelta({"hada_w1_a": a1, "hada_w1_b": b1, "hada_t1": t1, "hada_w2_a": a2, "hada_w2_b": b2,
                      "hada_t2": t2})
    assert loha.numel() == weight.numel()
    assert torch.allclose(loha(weight), factor(a1, b1, t1) * factor(a2, b2, t2), atol=1e-4)


def _assert_patch_alike(tiny_models_paths, loaded, files: dict):
    """Save two LoRA files ({name: state}, the reference first): both patch the sd1 MODEL and CLIP, identically."""
    from safetensors.torch import save_file

    from nodes.stages.lora import LoraLoader

    folder = tiny_models_paths.folder_dirs("loras")[0]
    folder.mkdir(parents=True, exist_ok=True)
    for name, state in files.items():
        save_file(state, str(folder / name))
    model, clip = loaded("sd1")
    (ref_model, ref_clip), (other_model, other_clip) = [LoraLoader().load_lora(model, clip, name, 1.0, 1.0)
                                                        for name in files]
    assert len(other_model.patches) == len(ref_model.patches) > 0
    assert torch.equal(our_output(other_model, "sd1"), our_output(ref_model, "sd1"))
    assert torch.equal(other_clip.encode_from_tokens(other_clip.tokenize(PROMPT))[0],
                       ref_clip.encode_from_tokens(ref_clip.tokenize(PROMPT))[0])


def test_old_diffusers_attention_processor_names_patch_like_peft(tiny_checkpoints, tiny_models_paths, loaded):
    # `unet.<path>.processor.to_q_lora.up.weight` and `….lora_linear_layer.up.weight` (diffusers < 0.21 files)
    from tiny_models import tiny_lora_state

    state = tiny_lora_state(tiny_checkpoints["sd1"], "peft", seed=3)
    old = {}
    for key, value in state.items():
        base, role = key.rsplit(".lora_", 1)
        up_down = "up" if role.startswith("B") else "down"
        module = base.removeprefix("unet.")
        if base.startswith("unet.") and ".to_" in module:
            module = module.replace(".to_", ".processor.to_").removesuffix(".0")
            old[f"{module}_lora.{up_down}.weight"] = value
        else:
            old[f"{base}.lora_linear_layer.{up_down}.weight"] = value
    _assert_patch_alike(tiny_models_paths, loaded, {"new_names.safetensors": state, "old_names.safetensors": old})


def test_comfyui_native_names_patch_like_peft(tiny_checkpoints, tiny_models_paths, loaded):
    # `diffusion_model.<original path>` and `text_encoders.clip_l.transformer.<path>` (ComfyUI's generic names)
    from runtime.networks.unet_keys import unet_key_map
    from tiny_models import tiny_lora_state

    unet = tiny_checkpoints["sd1"].components["unet"]
    original = {d.removesuffix(".weight"): o.removesuffix(".weight") for o, d in
                unet_key_map(dict(unet.config), [k for k, _ in unet.named_parameters()]).items()}
    state = tiny_lora_state(tiny_checkpoints["sd1"], "peft", seed=4)
    native = {}
    for key, value in state.items():
        module, _, role = key.partition(".lora_")
        if module.startswith("unet."):
            module = "diffusion_model." + original[module.removeprefix("unet.")]
        else:
            module = "text_encoders.clip_l.transformer." + module.removeprefix("text_encoder.")
        native[f"{module}.lora_{role}"] = value
    _assert_patch_alike(tiny_models_paths, loaded, {"peft_names.safetensors": state,
                                                    "native_names.safetensors": native})


def test_dora_equals_peft_merged_weights():
    # PEFT's DoRA: W' = m · (W + s·BA) / ‖W + s·BA‖ per output row; strength 0.5 moves halfway (ComfyUI's rule)
    from peft import LoraConfig, get_peft_model

    from runtime.lora.patches import DoraDelta, LoraDelta

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5))
    original = net[0].weight.detach().clone()
    peft_net = get_peft_model(net, LoraConfig(r=2, lora_alpha=4, target_modules=["0"], use_dora=True,
                                              init_lora_weights=False))
    layer = peft_net.base_model.model[0]
    down, up = layer.lora_A["default"].weight.detach().clone(), layer.lora_B["default"].weight.detach().clone()
    magnitude = layer.lora_magnitude_vector["default"].weight.detach().clone() * 1.3
    layer.lora_magnitude_vector["default"].weight.data = magnitude.clone()
    merged = peft_net.merge_and_unload()[0].weight.detach()

    delta = DoraDelta(LoraDelta({"up": up, "down": down, "alpha": torch.tensor(4.0)}), magnitude[:, None])
    assert torch.allclose(original + delta(original), merged, atol=1e-5)
    assert torch.allclose(original + 0.5 * delta(original), (original + merged) / 2, atol=1e-5)
    assert float((merged - original).abs().max()) > 0.05
    # kohya / LyCORIS files carry one magnitude per input column: each column of W' gets that norm
    per_input = torch.rand(1, 6) + 0.5
    columns = original + DoraDelta(LoraDelta({"up": up, "down": down}), per_input)(original)
    assert torch.allclose(columns.norm(dim=0), per_input[0], atol=1e-5)
