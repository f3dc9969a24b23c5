"""Conditioning nodes (spec §8.3): combine, average, concat, areas, masks, zero-out and timestep ranges, and the
`guidance` option of guidance-distilled models (FluxGuidance, FluxDisableGuidance; families.md §0.8).

A CONDITIONING is a list of `[cond [1, T, D], options]` entries; every node returns new lists with copied option
dicts, so the conditioning seen by other branches of the graph never changes.
"""

from __future__ import annotations

from nodes.constants import MAX_RESOLUTION

CONDITIONING = ("CONDITIONING",)
STRENGTH = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01})


def _with_options(conditioning, values: dict) -> list:
    """Each entry with `values` merged into a copy of its options."""
    return [[cond, {**options, **values}] for cond, options in conditioning]


def _first_from(node: str, conditioning_from) -> tuple:
    if not conditioning_from:
        raise ValueError(f"{node}: input 'conditioning_from' is empty; expected at least one conditioning entry")
    # like ComfyUI, only the first entry of conditioning_from is used
    return conditioning_from[0][0], conditioning_from[0][1]


class ConditioningCombine:
    """Both conditionings side by side: their predictions are averaged while sampling."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning_1": CONDITIONING, "conditioning_2": CONDITIONING}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "combine"
    CATEGORY = "conditioning"

    def combine(self, conditioning_1, conditioning_2):
        return (list(conditioning_1) + list(conditioning_2),)


class ConditioningAverage:
    """Each `to` entry blended with the first `from` entry: to·s + from·(1 − s) (tokens cropped/zero-padded)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning_to": CONDITIONING, "conditioning_from": CONDITIONING,
                             "conditioning_to_strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0,
                                                                    "step": 0.01})}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "addWeighted"
    CATEGORY = "conditioning"

    def addWeighted(self, conditioning_to, conditioning_from, conditioning_to_strength):
        import torch

        cond_from, options_from = _first_from("ConditioningAverage", conditioning_from)
        pooled_from = options_from.get("pooled_output")
        s = conditioning_to_strength
        out = []
        for cond_to, options_to in conditioning_to:
            source = cond_from[:, :cond_to.shape[1]]
            if source.shape[1] < cond_to.shape[1]:
                padding = torch.zeros((1, cond_to.shape[1] - source.shape[1], cond_to.shape[2]))
                source = torch.cat([source, padding.to(source)], dim=1)
            options = dict(options_to)
            pooled_to = options_to.get("pooled_output", pooled_from)
            if pooled_from is not None and pooled_to is not None:
                options["pooled_output"] = pooled_to * s + pooled_from * (1.0 - s)
            elif pooled_from is not None:
                options["pooled_output"] = pooled_from
            out.append([cond_to * s + source * (1.0 - s), options])
        return (out,)


class ConditioningConcat:
    """Each `to` entry with the first `from` entry's tokens appended."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning_to": CONDITIONING, "conditioning_from": CONDITIONING}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "concat"
    CATEGORY = "conditioning"

    def concat(self, conditioning_to, conditioning_from):
        import torch

        cond_from, _ = _first_from("ConditioningConcat", conditioning_from)
        return ([[torch.cat((cond, cond_from), 1), dict(options)] for cond, options in conditioning_to],)


def _pixels(default: int, minimum: int) -> tuple:
    return ("INT", {"default": default, "min": minimum, "max": MAX_RESOLUTION, "step": 8})


def _fraction(default: float) -> tuple:
    return ("FLOAT", {"default": default, "min": 0, "max": 1.0, "step": 0.01})


class ConditioningSetArea:
    """Restrict the conditioning to a rectangle given in pixels (stored in latent units, ÷8)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": CONDITIONING, "width": _pixels(64, 64), "height": _pixels(64, 64),
                             "x": _pixels(0, 0), "y": _pixels(0, 0), "strength": STRENGTH}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "append"
    CATEGORY = "conditioning"

    def append(self, conditioning, width, height, x, y, strength):
        area = (height // 8, width // 8, y // 8, x // 8)
        return (_with_options(conditioning, {"area": area, "strength": strength, "set_area_to_bounds": False}),)


class ConditioningSetAreaPercentage:
    """Restrict the conditioning to a rectangle given as fractions of the latent size."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": CONDITIONING, "width": _fraction(1.0), "height": _fraction(1.0),
                             "x": _fraction(0), "y": _fraction(0), "strength": STRENGTH}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "append"
    CATEGORY = "conditioning"

    def append(self, conditioning, width, height, x, y, strength):
        area = ("percentage", height, width, y, x)
        return (_with_options(conditioning, {"area": area, "strength": strength, "set_area_to_bounds": False}),)


class ConditioningSetAreaStrength:
    """Set the strength of every entry (how much its area or mask weighs against the others)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": CONDITIONING, "strength": STRENGTH}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "append"
    CATEGORY = "conditioning"

    def append(self, conditioning, strength):
        return (_with_options(conditioning, {"strength": strength}),)


class ConditioningSetMask:
    """Weight the conditioning by a mask; "mask bounds" also crops its UNet calls to the mask's bounding box."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": CONDITIONING, "mask": ("MASK",), "strength": STRENGTH,
                             "set_cond_area": (["default", "mask bounds"],)}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "append"
    CATEGORY = "conditioning"

    def append(self, conditioning, mask, strength, set_cond_area):
        if mask.dim() < 3:
            mask = mask.unsqueeze(0)
        values = {"mask": mask, "set_area_to_bounds": set_cond_area != "default", "mask_strength": strength}
        return (_with_options(conditioning, values),)


class ConditioningZeroOut:
    """The same conditioning with its tokens and pooled output set to zero."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": CONDITIONING}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "zero_out"
    CATEGORY = "advanced/conditioning"

    def zero_out(self, conditioning):
        import torch

        out = []
        for cond, options in conditioning:
            options = dict(options)
            for key in ("pooled_output", "conditioning_lyrics"):
                if options.get(key) is not None:
                    options[key] = torch.zeros_like(options[key])
            out.append([torch.zeros_like(cond), options])
        return (out,)


class ConditioningSetTimestepRange:
    """Use the conditioning only between `start` and `end` (fractions of the sampling run)."""

    @classmethod
    def INPUT_TYPES(cls):
        step = {"min": 0.0, "max": 1.0, "step": 0.001}
        return {"required": {"conditioning": CONDITIONING, "start": ("FLOAT", {"default": 0.0, **step}),
                             "end": ("FLOAT", {"default": 1.0, **step})}}

    RETURN_TYPES = CONDITIONING
    FUNCTION = "set_range"
    CATEGORY = "advanced/conditioning"

    def set_range(self, conditioning, start, end):
        return (_with_options(conditioning, {"start_percent": start, "end_percent": end}),)


class _FluxGuidanceNode:
    """Shared declaration: ComfyUI's `comfy_extras.nodes_flux` (V3) nodes that edit a CONDITIONING."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_flux"
    OBJECT_INFO_V3 = True
    RETURN_TYPES = CONDITIONING
    FUNCTION = "append"
    CATEGORY = "model/conditioning/flux"


class FluxGuidance(_FluxGuidanceNode):
    """Set the distilled guidance scale a guidance-distilled model (Flux dev) embeds: option `guidance`."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING", {}),
                             "guidance": ("FLOAT", {"default": 3.5, "min": 0.0, "max": 100.0, "step": 0.1})}}

    def append(self, conditioning, guidance):
        return (_with_options(conditioning, {"guidance": guidance}),)


class FluxDisableGuidance(_FluxGuidanceNode):
    """Set option `guidance` to None: the model gets no guidance embedding at all."""

    DESCRIPTION = "This node completely disables the guidance embed on Flux and Flux like models"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING", {})}}

    def append(self, conditioning):
        return (_with_options(conditioning, {"guidance": None}),)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    ConditioningCombine, ConditioningAverage, ConditioningConcat, ConditioningSetArea, ConditioningSetAreaPercentage,
    ConditioningSetAreaStrength, ConditioningSetMask, ConditioningZeroOut, ConditioningSetTimestepRange,
    FluxGuidance, FluxDisableGuidance)}
# ConditioningAverage has none: ComfyUI's display-name key for it ends in a space, so its class name is shown
NODE_DISPLAY_NAME_MAPPINGS = {
    "ConditioningCombine": "Conditioning (Combine)",
    "ConditioningConcat": "Conditioning (Concat)",
    "ConditioningSetArea": "Conditioning (Set Area)",
    "ConditioningSetAreaPercentage": "Conditioning (Set Area with Percentage)",
    "ConditioningSetMask": "Conditioning (Set Mask)",
}
