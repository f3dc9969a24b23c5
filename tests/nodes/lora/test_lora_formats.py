"""LoraLoader gives the same UNet and text encoder as diffusers' `load_lora_weights` + `fuse_lora` (kohya with
original- and diffusers-layout names, PEFT, LoCon) and as the spec §9.4 formulas for LyCORIS LoHa and LoKr."""

import copy

import pytest
import torch

STRENGTH_MODEL, STRENGTH_CLIP = 0.7, 0.6
PROMPT = "a (red:1.2) square on a blue background"


def unet_inputs(family: str):
    generator = torch.Generator().manual_seed(3)
    context = 96 if family == "sdxl" else 32
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


def encoders_of(components: dict) -> dict:
    return {slot: components[key] for slot, key in (("l", "text_encoder"), ("g", "text_encoder_2"))
            if key in components}


def reference_encoding(family, encoders):
    """Our text-encoding code run on the given (diffusers, LoRA-fused) transformers encoders."""
    from nodes.diffusion.text import TextEncoder, make_slots

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


@pytest.mark.parametrize("family, fmt", [("sd1", "kohya"), ("sd1", "peft"), ("sd1", "locon"),
                                         ("sdxl", "kohya_ldm"), ("sdxl", "kohya"), ("sdxl", "peft")])
def test_lora_equals_diffusers_load_lora_weights(tiny_checkpoints, tiny_loras, tiny_models_paths, loaded, family,
                                                 fmt):
    tiny = tiny_checkpoints[family]
    model, clip = loaded(family)
    patched_model, patched_clip = apply_node(tiny_models_paths, model, clip, tiny_loras[(family, fmt)])
    reference = diffusers_fused(tiny, tiny_models_paths.get_full_path("loras", tiny_loras[(family, fmt)]), family)

    ours, theirs = our_output(patched_model, family), reference_output(reference["unet"], family)
    assert float((ours - theirs).abs().max()) < 1e-4
    assert float((ours - our_output(model, family)).abs().max()) > 1e-2  # the LoRA changed something

    (cond, pooled), (ref_cond, ref_pooled) = (patched_clip.encode_from_tokens(patched_clip.tokenize(PROMPT)),
                                              reference_encoding(family, encoders_of(reference)))
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
    assert float((cond - reference_encoding(family, encoders_of(reference))[0]).abs().max()) < 1e-4
