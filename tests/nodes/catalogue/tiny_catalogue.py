"""Tiny random CLIP vision, style, upscale and GLIGEN models, saved in the layouts real files use."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

VISION_WIDTH = 32


def tiny_vision_model(seed: int = 0, projection_dim: int = 16, width: int = VISION_WIDTH, image_size: int = 32):
    """A transformers CLIPVisionModelWithProjection with the sizes our loader reads back from shapes."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=3,
                              num_attention_heads=max(1, width // 64), image_size=image_size, patch_size=8,
                              projection_dim=projection_dim, hidden_act="gelu", layer_norm_eps=1e-5)
    torch.manual_seed(seed)
    return CLIPVisionModelWithProjection(config).eval().requires_grad_(False)


def openclip_visual_layout(model) -> dict[str, torch.Tensor]:
    """The model's weights as an OpenCLIP `visual.*` tower (as embedded in unCLIP checkpoints)."""
    from runtime.text.clip_keys import hf_to_openclip

    state = model.state_dict()
    top = {"vision_model.embeddings.class_embedding": "class_embedding",
           "vision_model.embeddings.position_embedding.weight": "positional_embedding",
           "vision_model.embeddings.patch_embedding.weight": "conv1.weight",
           "vision_model.pre_layrnorm.weight": "ln_pre.weight", "vision_model.pre_layrnorm.bias": "ln_pre.bias",
           "vision_model.post_layernorm.weight": "ln_post.weight", "vision_model.post_layernorm.bias": "ln_post.bias"}
    out = {"visual." + name: state[key] for key, name in top.items()}
    out["visual.proj"] = state["visual_projection.weight"].t().contiguous()
    layers = {k.removeprefix("vision_model."): v for k, v in state.items() if k.startswith("vision_model.encoder.")}
    out.update({"visual." + k: v for k, v in hf_to_openclip(layers).items()})
    return out


def write_vision(folder: Path, name: str = "tiny_vision.safetensors", layout: str = "hf", **sizes):
    """Write a tiny CLIP vision file (`hf` or `openclip` layout); returns (path, the transformers model)."""
    model = tiny_vision_model(**sizes)
    folder.mkdir(parents=True, exist_ok=True)
    state = model.state_dict() if layout == "hf" else openclip_visual_layout(model)
    state = {k: v.contiguous() for k, v in state.items() if not k.endswith("position_ids")}
    save_file(state, str(folder / name))
    return folder / name, model


def gligen_state(unet, key_dim: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A GLIGEN file for a diffusers SD1 UNet: random fusers (open gates) per transformer block, position net."""
    from diffusers.models.attention import GatedSelfAttentionDense
    from diffusers.models.embeddings import GLIGENTextBoundingboxProjection

    from tests.tiny_models import unet_original

    torch.manual_seed(seed)
    state = {}
    for key, value in unet_original(unet).items():
        if key.endswith(".attn1.to_q.weight"):
            block = key.removesuffix(".attn1.to_q.weight")
            query = value.shape[0]
            fuser = GatedSelfAttentionDense(query, key_dim, 8, query // 8)
            fuser.alpha_attn.data.fill_(0.5)
            fuser.alpha_dense.data.fill_(0.5)
            state.update({f"model.diffusion_model.{block}.fuser.{k}": v for k, v in fuser.state_dict().items()})
    position = GLIGENTextBoundingboxProjection(positive_len=key_dim, out_dim=key_dim)
    state.update({f"position_net.{k}": v for k, v in position.state_dict().items()})
    return state


def write_catalogue_model(node_type: str, models_dir: Path, name: str, sd1=None) -> None:
    """A tiny file under `name` for a catalogue loader node of a workflow (GLIGEN needs the tiny SD1 checkpoint)."""
    from tests.tiny_models import G_WIDTH, L_WIDTH

    if node_type == "CLIPVisionLoader":  # SDXL revision: image embeddings as wide as CLIP-G's pooled text
        write_vision(models_dir / "clip_vision", name, projection_dim=G_WIDTH)
    elif node_type == "GLIGENLoader" and sd1 is not None:
        (models_dir / "gligen").mkdir(parents=True, exist_ok=True)
        state = gligen_state(sd1.components["unet"], L_WIDTH)
        save_file({k: v.contiguous() for k, v in state.items()}, str(models_dir / "gligen" / name))
