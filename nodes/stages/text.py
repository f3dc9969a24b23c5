"""Text encoding nodes (spec §8.3): prompt → CONDITIONING, CLIP layer choice, SDXL size and aesthetic conditioning.

The prompt syntax and encoders live in `runtime.text.encoder`; these nodes only pick texts and options.
"""

from __future__ import annotations

from nodes.constants import MAX_RESOLUTION

TEXT = ("STRING", {"multiline": True, "dynamicPrompts": True})
SIZE = ("INT", {"default": 1024, "min": 0, "max": MAX_RESOLUTION})
CROP = ("INT", {"default": 0, "min": 0, "max": MAX_RESOLUTION})
SDXL_MODULE = "comfy_extras.nodes_clip_sdxl"


def _require_clip(node: str, clip, slots: tuple[str, ...] = ()) -> None:
    if clip is None:
        raise RuntimeError(f"{node}: clip input is invalid: None\n\nIf the clip is from a checkpoint loader node your "
                           "checkpoint does not contain a valid clip or text encoder model.")
    missing = [s for s in slots if s not in {slot.name for slot in getattr(clip, "slots", [])}]
    if missing:
        raise ValueError(f"{node}: input 'clip' is a {getattr(clip, 'family', '?')} text encoder without the "
                         f"CLIP-{'/'.join(m.upper() for m in missing)} encoder this node needs (use an SDXL CLIP)")


class CLIPTextEncode:
    """Encode a prompt with `(word:1.2)` weights, `embedding:name` inversions and 75-token chunks."""

    DESCRIPTION = ("Encodes a text prompt using a CLIP model into an embedding that can be used to guide the "
                   "diffusion model towards generating specific images.")
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "encode"
    CATEGORY = "conditioning"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": TEXT, "clip": ("CLIP", {})}}

    def encode(self, clip, text):
        _require_clip("CLIPTextEncode", clip)
        return (clip.encode(text),)


class CLIPSetLastLayer:
    """Use an earlier CLIP layer's output (−1 = last layer, −2 = "clip skip 2")."""

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "set_last_layer"
    CATEGORY = "conditioning"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip": ("CLIP",),
                             "stop_at_clip_layer": ("INT", {"default": -1, "min": -24, "max": -1, "step": 1})}}

    def set_last_layer(self, clip, stop_at_clip_layer):
        _require_clip("CLIPSetLastLayer", clip)
        clip = clip.clone()
        clip.clip_layer(stop_at_clip_layer)
        return (clip,)


class _SDXLTextEncode:
    """What both SDXL text encoders declare: one CONDITIONING from `encode`, V3 entries of ComfyUI's SDXL module."""

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "encode"
    CATEGORY = "advanced/conditioning"
    RELATIVE_PYTHON_MODULE = SDXL_MODULE
    OBJECT_INFO_V3 = True


class CLIPTextEncodeSDXL(_SDXLTextEncode):
    """SDXL: `text_g` through CLIP-G, `text_l` through CLIP-L, with size and crop conditioning."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip": ("CLIP", {}), "width": SIZE, "height": SIZE, "crop_w": CROP, "crop_h": CROP,
                             "target_width": SIZE, "target_height": SIZE, "text_g": TEXT, "text_l": TEXT}}

    def encode(self, clip, width, height, crop_w, crop_h, target_width, target_height, text_g, text_l):
        _require_clip("CLIPTextEncodeSDXL", clip, ("g", "l"))
        tokens = clip.tokenize(text_g)
        tokens["l"] = clip.tokenize(text_l)["l"]
        cond, pooled = clip.encode_from_tokens(tokens, return_pooled=True)
        return ([[cond, {"pooled_output": pooled, "width": width, "height": height, "crop_w": crop_w,
                         "crop_h": crop_h, "target_width": target_width, "target_height": target_height}]],)


class CLIPTextEncodeSDXLRefiner(_SDXLTextEncode):
    """SDXL refiner: prompt plus aesthetic score and size conditioning."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ascore": ("FLOAT", {"default": 6.0, "min": 0.0, "max": 1000.0, "step": 0.01}),
                             "width": SIZE, "height": SIZE, "text": TEXT, "clip": ("CLIP", {})}}

    def encode(self, clip, ascore, width, height, text):
        _require_clip("CLIPTextEncodeSDXLRefiner", clip, ("g",))
        cond, pooled = clip.encode_from_tokens(clip.tokenize(text), return_pooled=True)
        return ([[cond, {"pooled_output": pooled, "aesthetic_score": ascore, "width": width, "height": height}]],)


NODE_CLASS_MAPPINGS = {
    "CLIPTextEncode": CLIPTextEncode,
    "CLIPSetLastLayer": CLIPSetLastLayer,
    "CLIPTextEncodeSDXL": CLIPTextEncodeSDXL,
    "CLIPTextEncodeSDXLRefiner": CLIPTextEncodeSDXLRefiner,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "CLIPTextEncode": "CLIP Text Encode (Prompt)",
    "CLIPSetLastLayer": "CLIP Set Last Layer",
}
