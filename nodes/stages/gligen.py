"""GLIGEN nodes (spec §8.2–§8.3): GLIGENLoader and GLIGENTextBoxApply (a text prompt placed in a box, SD1.x).
The boxes are checked against the image and turned into object tokens when sampling starts."""

from __future__ import annotations

from nodes.constants import MAX_RESOLUTION
from nodes.inputs import load_file, model_files


class GLIGENLoader:
    """Load a GLIGEN model from the gligen folder."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"gligen_name": (model_files("gligen"),)}}

    RETURN_TYPES = ("GLIGEN",)
    FUNCTION = "load_gligen"
    CATEGORY = "loaders"

    def load_gligen(self, gligen_name):
        from runtime.conditioning.gligen import load_gligen

        return (load_file("GLIGENLoader", "gligen_name", "gligen", gligen_name, load_gligen),)


def _box(default: int, minimum: int) -> tuple:
    return ("INT", {"default": default, "min": minimum, "max": MAX_RESOLUTION, "step": 8})


class GLIGENTextBoxApply:
    """Ask for `text` inside the width × height box at (x, y) (pixels; boxes add up over chained nodes)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning_to": ("CONDITIONING",), "clip": ("CLIP",),
                             "gligen_textbox_model": ("GLIGEN",),
                             "text": ("STRING", {"multiline": True, "dynamicPrompts": True}),
                             "width": _box(64, 8), "height": _box(64, 8), "x": _box(0, 0), "y": _box(0, 0)}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "append"
    CATEGORY = "conditioning/gligen"

    def append(self, conditioning_to, clip, gligen_textbox_model, text, width, height, x, y):
        if clip is None:
            raise ValueError("GLIGENTextBoxApply: input 'clip' is invalid: None")
        _, pooled = clip.encode_from_tokens(clip.tokenize(text), return_pooled=True)
        box = (pooled, height // 8, width // 8, y // 8, x // 8)  # latent units, as ComfyUI stores them
        out = []
        for cond, options in conditioning_to:
            previous = options["gligen"][2] if "gligen" in options else []
            out.append([cond, {**options, "gligen": ("position", gligen_textbox_model, [*previous, box])}])
        return (out,)


NODE_CLASS_MAPPINGS = {"GLIGENLoader": GLIGENLoader, "GLIGENTextBoxApply": GLIGENTextBoxApply}
