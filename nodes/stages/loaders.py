"""Model loader nodes (spec §8.2): checkpoints, diffusion models, text encoders, VAEs and diffusers folders.

The heavy lifting is `runtime.loaders`, imported when a node runs, so this module imports without torch.
"""

from __future__ import annotations

from nodes.inputs import embedding_dirs, load_file, load_named, model_files, resolve_file

CLIP_TYPES = ["stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart", "cosmos",
              "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image", "hunyuan_image", "flux2", "ovis"]
DUAL_CLIP_TYPES = ["sdxl", "sd3", "flux", "hunyuan_video", "hidream", "hunyuan_image", "hunyuan_video_15",
                   "kandinsky5", "kandinsky5_image", "ltxv", "newbie"]
UNET_DTYPES = ["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]
DEVICE_INPUT = {"device": (["default", "cpu"], {"advanced": True})}


def _check_clip_type(node: str, clip_type: str) -> None:
    """Refuse a text-encoder type no model family uses before any file is read."""
    from runtime import families

    if clip_type not in families.clip_types():
        raise ValueError(f"{node}: input 'type': {clip_type!r} text encoders are not supported by diffloom yet; "
                         f"supported: {', '.join(families.clip_types())}")


class CheckpointLoaderSimple:
    """Load a single-file SD1.x / SD2.x / SDXL checkpoint; the architecture is detected from its tensors."""

    DESCRIPTION = "Loads a diffusion model checkpoint, diffusion models are used to denoise latents."
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    OUTPUT_TOOLTIPS = ("The model used for denoising latents.",
                       "The CLIP model used for encoding text prompts.",
                       "The VAE model used for encoding and decoding images to and from latent space.")
    FUNCTION = "load_checkpoint"
    CATEGORY = "loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": (model_files("checkpoints"), {})}}

    def load_checkpoint(self, ckpt_name):
        from runtime.loaders import load_checkpoint

        return load_file("CheckpointLoaderSimple", "ckpt_name", "checkpoints", ckpt_name,
                          lambda path: load_checkpoint(path, embedding_dirs=embedding_dirs()))


class CheckpointLoader:
    """Load a checkpoint with a legacy YAML config: `parameterization: v` forces v-prediction, `layer_idx` sets
    the CLIP layer."""

    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load_checkpoint"
    CATEGORY = "advanced/loaders"
    DEPRECATED = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"config_name": (model_files("configs"),), "ckpt_name": (model_files("checkpoints"),)}}

    def load_checkpoint(self, config_name, ckpt_name):
        from runtime.loaders import load_checkpoint

        config_path = resolve_file("CheckpointLoader", "config_name", "configs", config_name)
        prediction, layer = _yaml_settings(config_path)
        path = resolve_file("CheckpointLoader", "ckpt_name", "checkpoints", ckpt_name)
        model, clip, vae = load_named("CheckpointLoader", "ckpt_name", ckpt_name, lambda: load_checkpoint(
            path, embedding_dirs=embedding_dirs(), prediction_type=prediction))
        if layer is not None and layer < 0:
            clip.clip_layer(layer)
        return model, clip, vae


def _yaml_settings(config_path) -> tuple[str | None, int | None]:
    """(prediction type, CLIP layer index) from an LDM inference YAML."""
    import yaml

    try:
        data = yaml.safe_load(config_path.read_text()) or {}
        params = data.get("model", {}).get("params", {})
    except (yaml.YAMLError, AttributeError) as error:
        raise ValueError(f"CheckpointLoader: input 'config_name': {config_path} is not an LDM config ({error})")
    prediction = "v" if params.get("parameterization") == "v" else None
    layer = ((params.get("cond_stage_config") or {}).get("params") or {}).get("layer_idx")
    return prediction, layer


class UNETLoader:
    """Load a diffusion-model-only file (original or diffusers UNet keys, or a full checkpoint's UNet)."""

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load_unet"
    CATEGORY = "advanced/loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"unet_name": (model_files("diffusion_models"),), "weight_dtype": (UNET_DTYPES,)}}

    def load_unet(self, unet_name, weight_dtype="default"):
        # fp8 storage is an accelerator memory saving; weights run in the device's compute dtype either way
        from runtime.loaders import load_unet

        return (load_file("UNETLoader", "unet_name", "diffusion_models", unet_name, load_unet),)


class CLIPLoader:
    """Load one text encoder; `type` and the encoder found in the file choose the model family (for
    stable_diffusion: CLIP-L SD1.x, OpenCLIP-H SD2.x, CLIP-G the SDXL refiner)."""

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load_clip"
    CATEGORY = "advanced/loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip_name": (model_files("text_encoders"),), "type": (CLIP_TYPES,)},
                "optional": dict(DEVICE_INPUT)}

    def load_clip(self, clip_name, type="stable_diffusion", device="default"):
        from runtime.loaders import load_text_encoders

        _check_clip_type("CLIPLoader", type)
        return (load_file("CLIPLoader", "clip_name", "text_encoders", clip_name,
                           lambda path: load_text_encoders([path], type, embedding_dirs(), device=device)),)


class DualCLIPLoader:
    """Load two text encoders (for sdxl: CLIP-L and CLIP-G, in either order)."""

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load_clip"
    CATEGORY = "advanced/loaders"

    @classmethod
    def INPUT_TYPES(cls):
        files = model_files("text_encoders")
        return {"required": {"clip_name1": (files,), "clip_name2": (files,), "type": (DUAL_CLIP_TYPES,)},
                "optional": dict(DEVICE_INPUT)}

    def load_clip(self, clip_name1, clip_name2, type="sdxl", device="default"):
        from runtime.loaders import load_text_encoders

        _check_clip_type("DualCLIPLoader", type)
        first = resolve_file("DualCLIPLoader", "clip_name1", "text_encoders", clip_name1)
        second = resolve_file("DualCLIPLoader", "clip_name2", "text_encoders", clip_name2)
        return (load_named("DualCLIPLoader", "clip_name1/clip_name2", f"{clip_name1}, {clip_name2}",
                      lambda: load_text_encoders([first, second], type, embedding_dirs(), device=device)),)


class VAELoader:
    """Load a standalone VAE file (original or diffusers keys)."""

    RETURN_TYPES = ("VAE",)
    FUNCTION = "load_vae"
    CATEGORY = "loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"vae_name": (model_files("vae"),)}}

    def load_vae(self, vae_name):
        from runtime.loaders import load_vae

        return (load_file("VAELoader", "vae_name", "vae", vae_name, load_vae),)


class DiffusersLoader:
    """Load a diffusers pipeline folder (found under models/diffusers by its model_index.json)."""

    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load_checkpoint"
    CATEGORY = "advanced/loaders/deprecated"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_path": (model_files("diffusers"),)}}

    def load_checkpoint(self, model_path, output_vae=True, output_clip=True):
        from runtime.loaders import load_diffusers_folder

        return load_file("DiffusersLoader", "model_path", "diffusers", model_path,
                          lambda path: load_diffusers_folder(path, embedding_dirs=embedding_dirs()))


NODE_CLASS_MAPPINGS = {
    "CheckpointLoaderSimple": CheckpointLoaderSimple,
    "CheckpointLoader": CheckpointLoader,
    "UNETLoader": UNETLoader,
    "CLIPLoader": CLIPLoader,
    "DualCLIPLoader": DualCLIPLoader,
    "VAELoader": VAELoader,
    "DiffusersLoader": DiffusersLoader,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "CheckpointLoaderSimple": "Load Checkpoint",
    "CheckpointLoader": "Load Checkpoint With Config (DEPRECATED)",
    "UNETLoader": "Load Diffusion Model",
    "CLIPLoader": "Load CLIP",
    "VAELoader": "Load VAE",
}
