"""Nodes for instruction-editing models (Flux Kontext): reference latents on a conditioning, how the model places
them, and the picture sizes Kontext prefers. Torch-free at import, like every stage module."""

from __future__ import annotations

from nodes.inputs import check_image, combo

# Kontext's preferred picture sizes (width, height), spec families.md §1 (g)
KONTEXT_SIZES = ((672, 1568), (688, 1504), (720, 1456), (752, 1392), (800, 1328), (832, 1248), (880, 1184),
                 (944, 1104), (1024, 1024), (1104, 944), (1184, 880), (1248, 832), (1328, 800), (1392, 752),
                 (1456, 720), (1504, 688), (1568, 672))
# the combo's choices and the option value each sets ("uxo/uno" is one placement)
REFERENCE_METHODS = {"offset": "offset", "index": "index", "uxo/uno": "uxo", "index_timestep_zero": "index_timestep_zero"}


def kontext_size(width: int, height: int) -> tuple[int, int]:
    """The preferred size whose aspect ratio is nearest the picture's."""
    return min(KONTEXT_SIZES, key=lambda size: abs(width / height - size[0] / size[1]))


class ReferenceLatent:
    """Add a latent to every entry's `reference_latents` (chain several for several references); without a latent the
    conditioning passes unchanged."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_edit_model"
    OBJECT_INFO_V3 = True
    DESCRIPTION = ("This node sets the guiding latent for an edit model. If the model supports it you can chain "
                   "multiple to set multiple reference images.")
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "append"
    CATEGORY = "model/conditioning"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING", {})}, "optional": {"latent": ("LATENT", {})}}

    def append(self, conditioning, latent=None):
        if latent is None:
            return (conditioning,)
        if not isinstance(latent, dict) or "samples" not in latent:
            raise ValueError(f"ReferenceLatent: input 'latent' must be a LATENT dict with 'samples', "
                             f"got {type(latent).__name__}")
        return ([[cond, {**options, "reference_latents": [*options.get("reference_latents", []), latent["samples"]]}]
                 for cond, options in conditioning],)


class FluxKontextImageScale:
    """Resize (Lanczos, centre crop) to the Kontext size nearest the picture's aspect ratio."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_flux"
    OBJECT_INFO_V3 = True
    DESCRIPTION = "This node resizes the image to one that is more optimal for flux kontext."
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "scale"
    CATEGORY = "model/conditioning/flux"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {})}}

    def scale(self, image):
        from runtime.imaging.resample import upscale

        check_image("FluxKontextImageScale", "image", image)
        width, height = kontext_size(image.shape[2], image.shape[1])
        return (upscale(image.movedim(-1, 1), width, height, "lanczos", "center").movedim(1, -1),)


class FluxKontextMultiReferenceLatentMethod:
    """Choose how the model places several reference latents (option `reference_latents_method`)."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_flux"
    OBJECT_INFO_V3 = True
    EXPERIMENTAL = True
    DESCRIPTION = ""
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "append"
    CATEGORY = "model/conditioning/flux"

    @classmethod
    def INPUT_TYPES(cls):
        choices = combo(REFERENCE_METHODS)
        return {"required": {"conditioning": ("CONDITIONING", {}),
                             "reference_latents_method": (choices[0], {"advanced": True, **choices[1]})}}

    def append(self, conditioning, reference_latents_method):
        if reference_latents_method not in REFERENCE_METHODS:
            raise ValueError(f"FluxKontextMultiReferenceLatentMethod: input 'reference_latents_method' must be one "
                             f"of {', '.join(REFERENCE_METHODS)}, got {reference_latents_method!r}")
        method = REFERENCE_METHODS[reference_latents_method]
        return ([[cond, {**options, "reference_latents_method": method}] for cond, options in conditioning],)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    ReferenceLatent, FluxKontextImageScale, FluxKontextMultiReferenceLatentMethod)}
NODE_DISPLAY_NAME_MAPPINGS = {"ReferenceLatent": "Set Reference Latent",
                              "FluxKontextMultiReferenceLatentMethod": "Edit Model Reference Method"}
