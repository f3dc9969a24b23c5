"""Write the trained networks as ONE single-file checkpoint in the original SD1.x layout (and read it back)."""

from __future__ import annotations

from pathlib import Path

import torch

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
# Real SD1.x files keep transformers' `text_model.` level under the CLIP wrapper; so do we.
TEXT_PREFIX = "cond_stage_model.transformer.text_model."


def original_layout(unet, vae, text_encoder) -> dict[str, torch.Tensor]:
    """diffusers / transformers state dicts renamed to SD1.x names by the loader's own diffusers→original maps."""
    from runtime.text.clip_keys import hf_clip_state_dict
    from runtime.networks.unet_keys import diffusers_unet_to_original
    from runtime.vae.keys import diffusers_vae_to_original, is_attention_projection

    # the original VAE attention projections are 1x1 convolutions, diffusers' are linears
    vae_weights = {k: v[..., None, None] if is_attention_projection(k) else v for k, v in vae.state_dict().items()}
    parts = ((UNET_PREFIX, diffusers_unet_to_original(unet.state_dict())),
             (VAE_PREFIX, diffusers_vae_to_original(vae_weights)),
             (TEXT_PREFIX, hf_clip_state_dict(text_encoder.state_dict())))
    return {prefix + key: tensor for prefix, weights in parts for key, tensor in weights.items()}


def save_checkpoint(path: str | Path, unet, vae, text_encoder, dtype: torch.dtype = torch.float16,
                    metadata: dict[str, str] | None = None) -> Path:
    """Save the three networks as one `.safetensors` file in the original layout, floats cast to `dtype`."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_checkpoint: {path} must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in
               original_layout(unet, vae, text_encoder).items()}
    partial = path.with_suffix(".partial")
    save_file(weights, str(partial), metadata={"format": "pt", **(metadata or {})})
    partial.replace(path)  # never leave a half-written checkpoint under the real name
    return path


def load_for_sampling(path: str | Path):
    """(MODEL, CLIP, VAE) from a toy checkpoint through diffloom's own loader, as CheckpointLoaderSimple loads it."""
    from runtime.loaders import load_checkpoint

    return load_checkpoint(path)
