"""Upscaling with a model (spec §8.2, §8.6): UpscaleModelLoader and ImageUpscaleWithModel (tiled, with progress).
The networks and the tiling live in `runtime.upscale.models`."""

from __future__ import annotations

from nodes.inputs import load_file, model_files


class UpscaleModelLoader:
    """Load an ESRGAN-family super-resolution model from the upscale_models folder."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_upscale_model"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_name": ("COMBO", {"multiselect": False, "options": model_files("upscale_models")})}}

    RETURN_TYPES = ("UPSCALE_MODEL",)
    FUNCTION = "load_model"
    CATEGORY = "loaders"

    def load_model(self, model_name):
        from runtime.upscale.models import load_upscale_model

        return (load_file("UpscaleModelLoader", "model_name", "upscale_models", model_name, load_upscale_model),)


class ImageUpscaleWithModel:
    """Upscale by the model's factor in 512-pixel tiles overlapping by 32 (smaller tiles if memory runs out)."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_upscale_model"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"upscale_model": ("UPSCALE_MODEL", {}), "image": ("IMAGE", {})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    def upscale(self, upscale_model, image):
        from executor import progress
        from runtime.upscale.models import upscale_image

        if not hasattr(upscale_model, "scale"):
            raise ValueError("ImageUpscaleWithModel: input 'upscale_model' is not an upscale model")
        if image.dim() != 4:
            raise ValueError(f"ImageUpscaleWithModel: input 'image' must be an IMAGE [B,H,W,C], got "
                             f"{tuple(image.shape)}")
        return (upscale_image(upscale_model, image, on_tile=progress.report),)


NODE_CLASS_MAPPINGS = {"UpscaleModelLoader": UpscaleModelLoader, "ImageUpscaleWithModel": ImageUpscaleWithModel}
NODE_DISPLAY_NAME_MAPPINGS = {"UpscaleModelLoader": "Load Upscale Model",
                              "ImageUpscaleWithModel": "Upscale Image (using Model)"}
