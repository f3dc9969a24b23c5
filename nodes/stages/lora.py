"""LoRA loader nodes (spec §8.2): patch a MODEL (and CLIP) clone with a LoRA file from models/loras.

The runtime is `runtime.lora.patches`, imported when a node runs, so this module imports without torch.
"""

from __future__ import annotations

from nodes.inputs import load_file, model_files

STRENGTH = ("FLOAT", {"default": 1.0, "min": -100.0, "max": 100.0, "step": 0.01})


def _apply(node: str, lora_name: str, model, clip, strength_model: float, strength_clip: float):
    """Load (cached) and apply a LoRA; errors name the node, the input and the file."""
    from runtime.lora.patches import apply_lora, load_lora

    return load_file(node, "lora_name", "loras", lora_name,
                      lambda path: apply_lora(load_lora(path), model, clip, strength_model, strength_clip))


class LoraLoader:
    """Apply a LoRA to the diffusion model and the text encoder, each with its own strength."""

    DESCRIPTION = ("LoRAs are used to modify diffusion and CLIP models, altering the way in which latents are "
                   "denoised such as applying styles. Multiple LoRA nodes can be linked together.")
    RETURN_TYPES = ("MODEL", "CLIP")
    OUTPUT_TOOLTIPS = ("The modified diffusion model.", "The modified CLIP model.")
    FUNCTION = "load_lora"
    CATEGORY = "loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL", {}), "clip": ("CLIP", {}), "lora_name": (model_files("loras"), {}),
                             "strength_model": STRENGTH, "strength_clip": STRENGTH}}

    def load_lora(self, model, clip, lora_name, strength_model, strength_clip):
        if strength_model == 0 and strength_clip == 0:
            return model, clip
        return _apply("LoraLoader", lora_name, model, clip, strength_model, strength_clip)


class LoraLoaderModelOnly:
    """Apply a LoRA to the diffusion model only."""

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load_lora_model_only"
    CATEGORY = "loaders"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "lora_name": (model_files("loras"),), "strength_model": STRENGTH}}

    def load_lora_model_only(self, model, lora_name, strength_model):
        if strength_model == 0:
            return (model,)
        return (_apply("LoraLoaderModelOnly", lora_name, model, None, strength_model, 0.0)[0],)


NODE_CLASS_MAPPINGS = {"LoraLoader": LoraLoader, "LoraLoaderModelOnly": LoraLoaderModelOnly}
NODE_DISPLAY_NAME_MAPPINGS = {"LoraLoader": "Load LoRA"}
