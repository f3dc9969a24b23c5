"""Weight files into MODEL / CLIP / VAE: single-file checkpoints, diffusion-model files, VAE and text-encoder files,
diffusers folders. Which family a file is, and everything that follows from it, comes from `runtime.families`."""

from __future__ import annotations

import logging
from pathlib import Path

from runtime import families
from runtime.devices import compute_device, weight_dtype
from runtime.families import Detection, UnknownModelError
from runtime.model import DiffusionModel
from runtime.text import clip_keys
from runtime.text.clip import build_clip_model, canonical_clip, clip_from_file, is_t5, not_yet_t5
from runtime.text.encoder import TextEncoder, make_slots
from runtime.vae.autoencoder import VAE, build_vae
from runtime.vae.keys import diffusers_vae_to_original
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.weights.quantized import dequantize

log = logging.getLogger(__name__)


def strip_prefix(state_dict: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def _unknown(path: Path, error: Exception) -> ModelFileError:
    hint = " (the name suggests a LoRA: use a LoRA loader)" if "lora" in path.name.lower() else ""
    known = ", ".join(f.label for f in families.known())
    return ModelFileError(f"{path}: could not detect the model type ({error}); expected a checkpoint or diffusion "
                          f"model of a known family ({known}){hint}")


def _detect(state_dict: dict, path: Path) -> Detection:
    try:
        return families.detect_checkpoint(state_dict)
    except (UnknownModelError, KeyError, StopIteration) as error:
        raise _unknown(path, error) from error


def model_from_state_dict(state_dict: dict, info: Detection, what: str, latent_downscale: int = 8,
                          prediction_type: str | None = None) -> DiffusionModel:
    """MODEL from a detected file: the family's network (fp8 and scaled-fp8 weights read as plain ones), model
    sampling (a given `prediction_type` overrides the detected one) and latent format."""
    family = info.spec
    dtype = weight_dtype(compute_device(), "unet")
    weights = dequantize(strip_prefix(state_dict, info.unet_prefix), f"{what} (UNet)")
    network = family.network.build(info.unet_config, weights, dtype, f"{what} (UNet)")
    sampling = family.model_sampling(prediction_type or info.prediction_type, state_dict)
    latent_format = family.latent_format.sized(info.unet_config["out_channels"], latent_downscale)
    return DiffusionModel(network, family, sampling, latent_format)


def load_checkpoint(path: str | Path, *, output_clip: bool = True, output_vae: bool = True,
                    embedding_dirs: list[Path] | None = None, prediction_type: str | None = None):
    """(MODEL, CLIP or None, VAE or None) from a single-file checkpoint (spec §9.3)."""
    path = Path(path)
    return checkpoint_from_state_dict(load_state_dict(path), path, output_clip=output_clip, output_vae=output_vae,
                                      embedding_dirs=embedding_dirs, prediction_type=prediction_type)


def checkpoint_from_state_dict(state_dict: dict, path: Path, *, output_clip: bool = True, output_vae: bool = True,
                               embedding_dirs: list[Path] | None = None, prediction_type: str | None = None):
    """(MODEL, CLIP or None, VAE or None) from an original-layout state dict; `path` names it in errors."""
    info = _detect(state_dict, path)
    device = compute_device()
    vae = clip = None
    # like ComfyUI, a checkpoint without VAE or text encoder loads; the missing output is None
    if output_vae and info.vae_prefix is None:
        log.warning("%s: no VAE weights (%s*) in the checkpoint; its VAE output is None", path, info.spec.vae_prefix)
    elif output_vae:
        vae = info.spec.build_vae(strip_prefix(state_dict, info.vae_prefix), weight_dtype(device, "vae"),
                                  f"{path} (VAE)")
    if output_clip and not info.text_encoders:
        log.warning("%s: no text encoder weights in the checkpoint; its CLIP output is None", path)
    elif output_clip:
        models = {}
        for source in info.text_encoders:
            weights = strip_prefix(state_dict, source.prefix)
            if is_t5(weights):
                raise not_yet_t5(f"{path} (text encoder {source.slot}; UNETLoader and VAELoader load its other parts)")
            canonical = canonical_clip(weights, source.layout)
            models[source.slot] = build_clip_model(canonical, source.slot, weight_dtype(device, "clip"),
                                                   f"{path} (text encoder {source.slot})")
        clip = TextEncoder(make_slots(info.family, models), info.family, embedding_dirs)
    downscale = vae.downscale_ratio if vae is not None else 8
    model = model_from_state_dict(state_dict, info, str(path), downscale, prediction_type)
    return model, clip, vae


def load_unclip_checkpoint(path: str | Path, embedding_dirs=None):
    """(MODEL, CLIP, VAE, CLIP_VISION) from an SD2.1 unCLIP checkpoint, whose image encoder is embedded."""
    from runtime.conditioning.clip_vision import UNCLIP_VISION_PREFIX, clip_vision_from_state_dict

    path = Path(path)
    state_dict = load_state_dict(path)
    vision = {k.removeprefix(UNCLIP_VISION_PREFIX): v for k, v in state_dict.items()
              if k.startswith(UNCLIP_VISION_PREFIX + "visual.")}
    if not vision:
        raise ModelFileError(f"{path}: no CLIP vision model embedded (embedder.model.visual.*): not an unCLIP "
                             "checkpoint; load it with CheckpointLoaderSimple")
    model, clip, vae = checkpoint_from_state_dict(state_dict, path, embedding_dirs=embedding_dirs)
    return model, clip, vae, clip_vision_from_state_dict(vision, f"{path} (CLIP vision)")


def load_diffusers_folder(folder: str | Path, *, embedding_dirs: list[Path] | None = None):
    """(MODEL, CLIP, VAE) from a diffusers pipeline folder (unet/, vae/, text_encoder/, text_encoder_2/)."""
    from runtime.networks.unet_keys import diffusers_unet_to_original

    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise ModelFileError(f"{folder}: not a diffusers folder (no model_index.json)")
    unet = diffusers_unet_to_original(load_state_dict(_weights_in(folder / "unet")))
    state = {"model.diffusion_model." + k: v for k, v in unet.items()}
    vae = diffusers_vae_to_original(load_state_dict(_weights_in(folder / "vae")))
    state.update({"first_stage_model." + k: v for k, v in vae.items()})
    first = clip_keys.hf_clip_state_dict(load_state_dict(_weights_in(folder / "text_encoder")))
    if (folder / "text_encoder_2").is_dir():
        second = clip_keys.hf_clip_state_dict(load_state_dict(_weights_in(folder / "text_encoder_2")))
        state.update({"conditioner.embedders.0.transformer." + k: v for k, v in first.items()})
        state.update({"conditioner.embedders.1.model." + k: v for k, v in clip_keys.hf_to_openclip(second).items()})
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
    """MODEL from a diffusion-model-only file (original layout, a full checkpoint, or diffusers keys)."""
    path = Path(path)
    state_dict = load_state_dict(path)
    for network in {f.network.name: f.network for f in families.known()}.values():
        if network.diffusers_marker in state_dict:
            state_dict = {"model.diffusion_model." + k: v for k, v in network.from_diffusers(state_dict).items()}
            break
    return model_from_state_dict(state_dict, _detect(state_dict, path), str(path))


def load_vae(path: str | Path) -> VAE:
    """VAE from a standalone file (original layout, with or without `first_stage_model.`, or diffusers keys)."""
    path = Path(path)
    state_dict = load_state_dict(path)
    if any(k.startswith("first_stage_model.") for k in state_dict):
        state_dict = strip_prefix(state_dict, "first_stage_model.")
    return build_vae(state_dict, weight_dtype(compute_device(), "vae"), f"{path} (VAE)")


def load_text_encoders(paths: list[str | Path], clip_type: str, embedding_dirs: list[Path] | None = None,
                       device: str = "default") -> TextEncoder:
    """CLIP from text-encoder files (CLIPLoader / DualCLIPLoader): the family whose text encoders they are among
    those `clip_type` covers; device "cpu" keeps it on the CPU."""
    import torch

    dtype = torch.float32 if device == "cpu" else weight_dtype(compute_device(), "clip")
    models = dict(clip_from_file(load_state_dict(Path(p)), Path(p), dtype) for p in paths)
    family = families.for_clip_type(clip_type, models)
    if family is None:
        names = ", ".join(str(p) for p in paths)
        options = "; ".join(f"{'+'.join(e.name.upper() for e in f.text_encoders)} for {f.label}"
                            for f in families.known() if clip_type in f.clip_types)
        raise ModelFileError(f"{names}: text encoders {sorted(models)} do not make a {clip_type} CLIP "
                             f"(expected {options or 'nothing: no family uses this type'})")
    clip = TextEncoder(make_slots(family.name, models), family.name, embedding_dirs)
    clip.run_device = "cpu" if device == "cpu" else None
    return clip
