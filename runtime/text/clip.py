"""CLIP text towers (OpenAI CLIP-L, OpenCLIP-H, OpenCLIP-G) on transformers: config from tensor shapes, building
from a file's weights in either layout, and telling which tower a file holds."""

from __future__ import annotations

import re

from runtime.text import clip_keys
from runtime.weights.files import ModelFileError
from runtime.weights.meta import assign_weights, on_meta
from runtime.weights.shapes import heads_for, indices, shapes_of

SLOT_BY_WIDTH = {768: "l", 1024: "h", 1280: "g"}
# prefixes text encoders carry inside checkpoints, stripped when a text-encoder file still has one
CHECKPOINT_PREFIXES = ("cond_stage_model.transformer.", "cond_stage_model.model.",
                       "conditioner.embedders.0.transformer.", "conditioner.embedders.0.model.",
                       "conditioner.embedders.1.model.")


def clip_config_from_shapes(shapes: dict, slot: str) -> dict:
    """A transformers `CLIPTextConfig` dict for canonical-key CLIP shapes (see clip_keys) of encoder `slot`."""
    vocab, width = shapes["embeddings.token_embedding.weight"]
    layers = len(indices(shapes, r"encoder\.layers\.(\d+)\."))
    projection = shapes.get("text_projection.weight")
    return {
        "vocab_size": vocab, "hidden_size": width, "num_hidden_layers": layers,
        "intermediate_size": shapes["encoder.layers.0.mlp.fc1.weight"][0],
        "num_attention_heads": heads_for(width),
        "max_position_embeddings": shapes["embeddings.position_embedding.weight"][0],
        "projection_dim": projection[0] if projection else width,
        # OpenAI's CLIP-L uses the sigmoid approximation of GELU; the OpenCLIP H and G towers use the exact one
        "hidden_act": "quick_gelu" if slot == "l" else "gelu", "layer_norm_eps": 1e-5,
        "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407,
    }


def canonical_clip(state_dict: dict, layout: str) -> dict:
    """A text tower's weights in the canonical (transformers, no `text_model.`) names from either layout."""
    if layout == "openclip":
        return clip_keys.openclip_to_hf(state_dict)
    return clip_keys.hf_clip_state_dict(state_dict)


def build_clip_model(canonical: dict, slot: str, dtype, what: str):
    """A transformers CLIP text model for encoder `slot` ("l", "h", "g") from canonical keys."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    try:
        config = CLIPTextConfig(**clip_config_from_shapes(shapes_of(canonical), slot))
    except KeyError as error:
        raise ModelFileError(f"{what}: not a CLIP text encoder (no {error}); expected CLIP text weights") from error
    if "text_projection.weight" in canonical:
        model = on_meta(lambda: CLIPTextModelWithProjection(config))
        weights = {("" if k == "text_projection.weight" else "text_model.") + k: v for k, v in canonical.items()}
    else:
        model = on_meta(lambda: CLIPTextModel(config))
        weights = canonical
    return assign_weights(model, weights, dtype=dtype, what=what)


def is_t5(state_dict) -> bool:
    """Whether the weights are a T5 encoder's (`encoder.block.N.layer.0.SelfAttention.*`)."""
    return any(k.startswith("encoder.block.") and ".SelfAttention." in k for k in state_dict)


def not_yet_t5(what) -> ModelFileError:
    return ModelFileError(f"{what}: a T5 text encoder (encoder.block.*.SelfAttention); T5 encoders (Flux, SD3.5, "
                          "Chroma) are not supported by diffloom yet — only CLIP-L, OpenCLIP-H and CLIP-G")


def clip_from_file(state_dict: dict, path, dtype) -> tuple[str, object]:
    """(slot, model) of a text-encoder file: CLIP-L, OpenCLIP-H or CLIP-G, told apart by width (and layout)."""
    for prefix in CHECKPOINT_PREFIXES:
        if any(k.startswith(prefix) for k in state_dict):
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
            break
    if is_t5(state_dict):
        raise not_yet_t5(path)
    layout = "openclip" if clip_keys.is_openclip(state_dict) else "hf"
    canonical = canonical_clip(state_dict, layout)
    if "embeddings.token_embedding.weight" not in canonical:
        raise ModelFileError(f"{path}: not a CLIP text encoder (no token embedding); expected CLIP-L, OpenCLIP-H "
                             "or CLIP-G text weights")
    width = canonical["embeddings.token_embedding.weight"].shape[1]
    slot = SLOT_BY_WIDTH.get(width) or ("g" if layout == "openclip" else "l")
    return slot, build_clip_model(canonical, slot, dtype, f"{path} (text encoder)")
