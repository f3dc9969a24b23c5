"""Loading weight files into MODEL / CLIP / VAE: single-file checkpoints, UNet-only, VAE and text-encoder files."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from runtime.text import clip_keys as convert_clip

from runtime.families import detect
from runtime.families.unet_keys import diffusers_unet_to_original, unet_key_map
from runtime.vae.keys import (diffusers_vae_to_original, is_attention_projection, is_diffusers_vae,
                                         vae_key_map)
from runtime.devices import compute_device, weight_dtype
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.latent_format import latent_format_for
from runtime.weights.meta import assign_weights, on_meta
from runtime.model import DiffusionModel
from runtime.text.encoder import TextEncoder, make_slots
from runtime.vae.autoencoder import VAE

log = logging.getLogger(__name__)
CLIP_SLOT_BY_WIDTH = {768: "l", 1024: "h", 1280: "g"}
FAMILY_BY_SLOTS = {("l",): "sd1", ("h",): "sd2", ("g",): "sdxl_refiner", ("g", "l"): "sdxl"}


def strip_prefix(state_dict: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def build_unet(original: dict, config: dict, dtype: torch.dtype, what: str):
    """A diffusers UNet from original-layout tensors (keys without `model.diffusion_model.`)."""
    from diffusers import UNet2DConditionModel

    unet = on_meta(lambda: UNet2DConditionModel(**config))
    mapping = unet_key_map(config, unet.state_dict().keys())
    return assign_weights(unet, {mapping.get(k, k): v for k, v in original.items()}, dtype=dtype, what=what)


def build_vae(original: dict, dtype: torch.dtype, what: str) -> VAE:
    """A VAE from original-layout tensors (keys without `first_stage_model.`; diffusers names are converted)."""
    from diffusers import AutoencoderKL

    if is_diffusers_vae(original):
        original = diffusers_vae_to_original(original)
    try:
        config = detect.vae_config_from_shapes(detect.shapes_of(original), "")
    except (detect.UnknownModelError, KeyError) as error:
        raise ModelFileError(f"{what}: not a VAE ({error}); expected AutoencoderKL weights") from error
    autoencoder = on_meta(lambda: AutoencoderKL(**config))
    mapping = vae_key_map(config, autoencoder.state_dict().keys())
    expected = autoencoder.state_dict()
    weights = {}
    for key, value in original.items():
        target = mapping.get(key, key)
        if is_attention_projection(target) and target in expected and value.dim() != expected[target].dim():
            value = value.reshape(expected[target].shape)  # 1×1 conv ↔ linear
        weights[target] = value
    return VAE(assign_weights(autoencoder, weights, dtype=dtype, what=what))


def build_clip_model(canonical: dict, slot: str, dtype: torch.dtype, what: str):
    """A transformers CLIP text model for encoder `slot` ("l", "h", "g") from canonical keys (see convert_clip)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    try:
        config = CLIPTextConfig(**detect.clip_config_from_shapes(detect.shapes_of(canonical), slot))
    except KeyError as error:
        raise ModelFileError(f"{what}: not a CLIP text encoder (no {error}); expected CLIP text weights") from error
    if "text_projection.weight" in canonical:
        model = on_meta(lambda: CLIPTextModelWithProjection(config))
        weights = {("" if k == "text_projection.weight" else "text_model.") + k: v for k, v in canonical.items()}
    else:
        model = on_meta(lambda: CLIPTextModel(config))
        weights = canonical
    return assign_weights(model, weights, dtype=dtype, what=what)


def canonical_clip(state_dict: dict, layout: str) -> dict:
    if layout == "openclip":
        return convert_clip.openclip_to_hf(state_dict)
    return convert_clip.hf_clip_state_dict(state_dict)


def _unknown(path: Path, error: Exception) -> ModelFileError:
    hint = " (the name suggests a LoRA: use a LoRA loader)" if "lora" in path.name.lower() else ""
    return ModelFileError(f"{path}: could not detect the model type ({error}); expected a Stable Diffusion 1.x, "
                          f"2.x or SDXL checkpoint{hint}")


def model_from_state_dict(state_dict: dict, info: detect.CheckpointInfo, what: str,
                          latent_downscale: int = 8, prediction_type: str | None = None) -> DiffusionModel:
    from runtime.sampling.model_sampling import ModelSamplingDiscrete

    dtype = weight_dtype(compute_device(), "unet")
    unet = build_unet(strip_prefix(state_dict, info.unet_prefix), info.unet_config, dtype, f"{what} (UNet)")
    sampling = ModelSamplingDiscrete(prediction_type=prediction_type or info.prediction_type,
                                     zsnr="ztsnr" in state_dict)
    channels = info.unet_config["out_channels"]
    return DiffusionModel(unet, info.family, sampling, latent_format_for(info.family, channels, latent_downscale))


def load_checkpoint(path: str | Path, *, output_clip: bool = True, output_vae: bool = True,
                    embedding_dirs: list[Path] | None = None, prediction_type: str | None = None):
    """(MODEL, CLIP or None, VAE or None) from a single-file checkpoint (spec §9.3)."""
    path = Path(path)
    return checkpoint_from_state_dict(load_state_dict(path), path, output_clip=output_clip, output_vae=output_vae,
                                      embedding_dirs=embedding_dirs, prediction_type=prediction_type)


def checkpoint_from_state_dict(state_dict: dict, path: Path, *, output_clip: bool = True, output_vae: bool = True,
                               embedding_dirs: list[Path] | None = None, prediction_type: str | None = None):
    """(MODEL, CLIP or None, VAE or None) from an original-layout state dict; `path` names it in errors."""
    try:
        info = detect.detect_checkpoint(state_dict)
    except (detect.UnknownModelError, KeyError, StopIteration) as error:
        raise _unknown(path, error) from error
    device = compute_device()
    vae = clip = None
    # like ComfyUI, a checkpoint without VAE or text encoder loads; the missing output is None
    if output_vae and info.vae_prefix is None:
        log.warning("%s: no VAE weights (first_stage_model.*) in the checkpoint; its VAE output is None", path)
    elif output_vae:
        vae = build_vae(strip_prefix(state_dict, info.vae_prefix), weight_dtype(device, "vae"), f"{path} (VAE)")
    if output_clip and not info.text_encoders:
        log.warning("%s: no text encoder weights in the checkpoint; its CLIP output is None", path)
    elif output_clip:
        models = {}
        for source in info.text_encoders:
            canonical = canonical_clip(strip_prefix(state_dict, source.prefix), source.layout)
            models[source.slot] = build_clip_model(canonical, source.slot, weight_dtype(device, "clip"),
                                                   f"{path} (text encoder {source.slot})")
        clip = TextEncoder(make_slots(info.family, models), info.family, embedding_dirs)
    downscale = vae.downscale_ratio if vae is not None else 8
    model = model_from_state_dict(state_dict, info, str(path), downscale, prediction_type)
    return model, clip, vae


def load_diffusers_folder(folder: str | Path, *, embedding_dirs: list[Path] | None = None):
    """(MODEL, CLIP, VAE) from a diffusers pipeline folder (unet/, vae/, text_encoder/, text_encoder_2/)."""
    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise ModelFileError(f"{folder}: not a diffusers folder (no model_index.json)")
    unet = diffusers_unet_to_original(load_state_dict(_weights_in(folder / "unet")))
    state = {"model.diffusion_model." + k: v for k, v in unet.items()}
    vae = diffusers_vae_to_original(load_state_dict(_weights_in(folder / "vae")))
    state.update({"first_stage_model." + k: v for k, v in vae.items()})
    first = convert_clip.hf_clip_state_dict(load_state_dict(_weights_in(folder / "text_encoder")))
    if (folder / "text_encoder_2").is_dir():
        second = convert_clip.hf_clip_state_dict(load_state_dict(_weights_in(folder / "text_encoder_2")))
        state.update({"conditioner.embedders.0.transformer." + k: v for k, v in first.items()})
        state.update({"conditioner.embedders.1.model." + k: v for k, v in convert_clip.hf_to_openclip(second).items()})
    else:
        state.update({"cond_stage_model.transformer." + k: v for k, v in first.items()})
    return checkpoint_from_state_dict(state, folder, embedding_dirs=embedding_dirs)


def _weights_in(subfolder: Path) -> Path:
    for stem in ("diffusion_pytorch_model", "model", "pytorch_model"):
        for suffix in (".safetensors", ".fp16.safetensors", ".bin", ".fp16.bin"):
            if (subfolder / (stem + suffix)).is_file():
                return subfolder / (stem + suffix)
    raise ModelFileError(f"{subfolder}: no weights file (expected diffusion_pytorch_model.safetensors or "
                         "model.safetensors)")


def load_unet(path: str | Path) -> DiffusionModel:
    """MODEL from a diffusion-model-only file (original layout, a full checkpoint, or diffusers UNet keys)."""
    path = Path(path)
    state_dict = load_state_dict(path)
    if "conv_in.weight" in state_dict:
        state_dict = {"model.diffusion_model." + k: v for k, v in diffusers_unet_to_original(state_dict).items()}
    try:
        info = detect.detect_checkpoint(state_dict)
    except (detect.UnknownModelError, KeyError, StopIteration) as error:
        raise _unknown(path, error) from error
    return model_from_state_dict(state_dict, info, str(path))


def load_vae(path: str | Path) -> VAE:
    """VAE from a standalone file (original layout, with or without `first_stage_model.`, or diffusers keys)."""
    path = Path(path)
    state_dict = load_state_dict(path)
    if any(k.startswith("first_stage_model.") for k in state_dict):
        state_dict = strip_prefix(state_dict, "first_stage_model.")
    return build_vae(state_dict, weight_dtype(compute_device(), "vae"), f"{path} (VAE)")


def _clip_from_file(path: Path, dtype: torch.dtype) -> tuple[str, torch.nn.Module]:
    state_dict = load_state_dict(path)
    for prefix in ("cond_stage_model.transformer.", "cond_stage_model.model.", "conditioner.embedders.0.transformer.",
                   "conditioner.embedders.0.model.", "conditioner.embedders.1.model."):
        if any(k.startswith(prefix) for k in state_dict):
            state_dict = strip_prefix(state_dict, prefix)
            break
    layout = "openclip" if convert_clip.is_openclip(state_dict) else "hf"
    canonical = canonical_clip(state_dict, layout)
    if "embeddings.token_embedding.weight" not in canonical:
        raise ModelFileError(f"{path}: not a CLIP text encoder (no token embedding); expected CLIP-L, OpenCLIP-H "
                             "or CLIP-G text weights")
    width = canonical["embeddings.token_embedding.weight"].shape[1]
    slot = CLIP_SLOT_BY_WIDTH.get(width) or ("g" if layout == "openclip" else "l")
    return slot, build_clip_model(canonical, slot, dtype, f"{path} (text encoder)")


def load_text_encoders(paths: list[str | Path], embedding_dirs: list[Path] | None = None,
                       family: str | None = None, device: str = "default") -> TextEncoder:
    """CLIP from one or two text-encoder files (CLIPLoader / DualCLIPLoader); device "cpu" keeps it on the CPU."""
    dtype = torch.float32 if device == "cpu" else weight_dtype(compute_device(), "clip")
    models = dict(_clip_from_file(Path(p), dtype) for p in paths)
    detected = FAMILY_BY_SLOTS.get(tuple(sorted(models)))
    family = family or detected
    if family is None or family not in {"sd1", "sd2", "sdxl", "sdxl_refiner"} or detected != family:
        names = ", ".join(str(p) for p in paths)
        raise ModelFileError(f"{names}: text encoders {sorted(models)} do not make a {family or 'known'} CLIP "
                             "(expected CLIP-L for SD1, OpenCLIP-H for SD2, CLIP-L + CLIP-G for SDXL)")
    clip = TextEncoder(make_slots(family, models), family, embedding_dirs)
    clip.run_device = "cpu" if device == "cpu" else None
    return clip
