"""Image prompts (spec §8.2–§8.3): CLIP vision loading and encoding, unCLIP / SDXL revision conditioning and
T2I style models. The work is in `runtime.conditioning.clip_vision` and `runtime.conditioning.style_model`."""

from __future__ import annotations

from nodes.inputs import embedding_dirs, load_file, model_files

CROP_MODES = ["center", "none"]
STRENGTH_TYPES = ["multiply", "attn_bias"]


class CLIPVisionLoader:
    """Load a CLIP vision encoder from the clip_vision folder."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip_name": (model_files("clip_vision"),)}}

    RETURN_TYPES = ("CLIP_VISION",)
    FUNCTION = "load_clip"
    CATEGORY = "loaders"

    def load_clip(self, clip_name):
        from runtime.conditioning.clip_vision import load_clip_vision

        return (load_file("CLIPVisionLoader", "clip_name", "clip_vision", clip_name, load_clip_vision),)


class CLIPVisionEncode:
    """Encode images: crop "center" keeps the aspect (short side fitted, centre cut), "none" squashes."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip_vision": ("CLIP_VISION",), "image": ("IMAGE",), "crop": (CROP_MODES,)}}

    RETURN_TYPES = ("CLIP_VISION_OUTPUT",)
    FUNCTION = "encode"
    CATEGORY = "conditioning"

    def encode(self, clip_vision, image, crop):
        if clip_vision is None or not hasattr(clip_vision, "encode_image"):
            raise ValueError("CLIPVisionEncode: input 'clip_vision' is not a CLIP vision model")
        if image.dim() != 4:
            raise ValueError(f"CLIPVisionEncode: input 'image' must be an IMAGE [B,H,W,C], got {tuple(image.shape)}")
        return (clip_vision.encode_image(image, crop=crop == "center"),)


class unCLIPConditioning:  # noqa: N801 - ComfyUI's class name
    """Attach image embeddings to the conditioning (unCLIP models; SDXL uses them as its pooled vector)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING",), "clip_vision_output": ("CLIP_VISION_OUTPUT",),
                             "strength": ("FLOAT", {"default": 1.0, "min": -10.0, "max": 10.0, "step": 0.01}),
                             "noise_augmentation": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01})}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_adm"
    CATEGORY = "conditioning"

    def apply_adm(self, conditioning, clip_vision_output, strength, noise_augmentation):
        if strength == 0:
            return (conditioning,)
        entry = {"clip_vision_output": clip_vision_output, "strength": strength,
                 "noise_augmentation": noise_augmentation}
        return ([[cond, {**options, "unclip_conditioning": [*options.get("unclip_conditioning", []), entry]}]
                 for cond, options in conditioning],)


class unCLIPCheckpointLoader:  # noqa: N801 - ComfyUI's class name
    """Load a checkpoint and the CLIP vision model embedded in it (unCLIP checkpoints)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": (model_files("checkpoints"),)}}

    RETURN_TYPES = ("MODEL", "CLIP", "VAE", "CLIP_VISION")
    FUNCTION = "load_checkpoint"
    CATEGORY = "loaders"

    def load_checkpoint(self, ckpt_name):
        from runtime.loaders import load_unclip_checkpoint

        return load_file("unCLIPCheckpointLoader", "ckpt_name", "checkpoints", ckpt_name,
                          lambda path: load_unclip_checkpoint(path, embedding_dirs=embedding_dirs()))


class StyleModelLoader:
    """Load a T2I-Adapter style model from the style_models folder."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"style_model_name": (model_files("style_models"),)}}

    RETURN_TYPES = ("STYLE_MODEL",)
    FUNCTION = "load_style_model"
    CATEGORY = "loaders"

    def load_style_model(self, style_model_name):
        from runtime.conditioning.style_model import load_style_model

        return (load_file("StyleModelLoader", "style_model_name", "style_models", style_model_name,
                           load_style_model),)


class StyleModelApply:
    """Append the style model's tokens (from the CLIP vision output) to every conditioning's text tokens, scaled
    (`multiply`) or weighted in the cross-attention by log(strength) (`attn_bias`)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING",), "style_model": ("STYLE_MODEL",),
                             "clip_vision_output": ("CLIP_VISION_OUTPUT",),
                             "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.001}),
                             "strength_type": (STRENGTH_TYPES,)}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_stylemodel"
    CATEGORY = "conditioning/style_model"

    def apply_stylemodel(self, conditioning, style_model, clip_vision_output, strength, strength_type):
        import math

        import torch

        from runtime.conditioning.style_model import extend_key_bias

        tokens = style_model.get_cond(clip_vision_output).flatten(0, 1).unsqueeze(0)
        if strength_type == "multiply":
            tokens = tokens * strength
        bias = 0.0
        if strength_type == "attn_bias":  # the UNet's cross-attention adds log(strength) to the style tokens' logits
            bias = math.log(strength) if strength > 0 else -math.inf
        return ([[torch.cat([cond, tokens.to(cond)], dim=1),
                  extend_key_bias(options, cond.shape[1], tokens.shape[1], bias)] for cond, options in conditioning],)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    CLIPVisionLoader, CLIPVisionEncode, unCLIPConditioning, unCLIPCheckpointLoader, StyleModelLoader,
    StyleModelApply)}
NODE_DISPLAY_NAME_MAPPINGS = {"CLIPVisionLoader": "Load CLIP Vision", "CLIPVisionEncode": "CLIP Vision Encode",
                              "StyleModelLoader": "Load Style Model", "StyleModelApply": "Apply Style Model"}
