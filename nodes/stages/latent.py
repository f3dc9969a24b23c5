"""Latent nodes (spec §8.4): empty latents, resizing, batching, compositing, blending and noise masks.

A LATENT is a dict with `samples` `[B,C,h,w]` in raw VAE space, optional `noise_mask` and `batch_index` (and
`downscale_ratio_spacial`, written by EmptySD3LatentImage and dropped by the samplers; families.md §0.3); nodes
return a shallow copy so the input dict seen by other branches never changes.
"""

from __future__ import annotations

import math

from nodes.constants import MAX_RESOLUTION
from runtime.imaging import LATENT_UPSCALE_METHODS, CROP_METHODS

LATENT = ("LATENT",)
# Pixels per latent cell for the SD family; the latent nodes work in pixel units like ComfyUI's.
DOWNSCALE = 8


def _pixels(default: int, minimum: int, step: int = 8) -> tuple:
    return ("INT", {"default": default, "min": minimum, "max": MAX_RESOLUTION, "step": step})


def _fit_mask_batch(masks, batch_size: int):
    """Cycle a noise-mask batch up to the latent batch size (masks of batch 1 apply to every item)."""
    if masks.shape[0] < batch_size:
        masks = masks.repeat(math.ceil(batch_size / masks.shape[0]), 1, 1, 1)[:batch_size]
    return masks


class EmptyLatentImage:
    """Zeros of shape [batch_size, 4, height // 8, width // 8]."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": _pixels(512, 16), "height": _pixels(512, 16),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    RETURN_TYPES = LATENT
    FUNCTION = "generate"
    CATEGORY = "latent"

    def generate(self, width, height, batch_size=1):
        import torch

        samples = torch.zeros([batch_size, 4, height // DOWNSCALE, width // DOWNSCALE])
        return ({"samples": samples},)


def _resize_latent(samples: dict, width_px: int, height_px: int, method: str, crop: str) -> dict:
    from runtime.imaging.resample import upscale

    out = dict(samples)
    out["samples"] = upscale(samples["samples"], width_px // DOWNSCALE, height_px // DOWNSCALE, method, crop)
    return out


class LatentUpscale:
    """Resize to width × height pixels (a 0 side keeps the aspect ratio; both 0 leaves the latent as it is)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "upscale_method": (LATENT_UPSCALE_METHODS,),
                             "width": _pixels(512, 0), "height": _pixels(512, 0), "crop": (CROP_METHODS,)}}

    RETURN_TYPES = LATENT
    FUNCTION = "upscale"
    CATEGORY = "latent"

    def upscale(self, samples, upscale_method, width, height, crop):
        if width == 0 and height == 0:
            return (samples,)
        latent_h, latent_w = samples["samples"].shape[-2:]
        if width == 0:
            height = max(64, height)
            width = max(64, round(latent_w * height / latent_h))
        elif height == 0:
            width = max(64, width)
            height = max(64, round(latent_h * width / latent_w))
        else:
            width, height = max(64, width), max(64, height)
        return (_resize_latent(samples, width, height, upscale_method, crop),)


class LatentUpscaleBy:
    """Resize each latent side by scale_by (rounded)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "upscale_method": (LATENT_UPSCALE_METHODS,),
                             "scale_by": ("FLOAT", {"default": 1.5, "min": 0.01, "max": 8.0, "step": 0.01})}}

    RETURN_TYPES = LATENT
    FUNCTION = "upscale"
    CATEGORY = "latent"

    def upscale(self, samples, upscale_method, scale_by):
        from runtime.imaging.resample import upscale

        latent_h, latent_w = samples["samples"].shape[-2:]
        width, height = round(latent_w * scale_by), round(latent_h * scale_by)
        out = dict(samples)
        out["samples"] = upscale(samples["samples"], max(1, width), max(1, height), upscale_method, "disabled")
        return (out,)


class LatentFromBatch:
    """Items batch_index … batch_index+length−1 of a batch; batch_index records where they came from."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "batch_index": ("INT", {"default": 0, "min": 0, "max": 63}),
                             "length": ("INT", {"default": 1, "min": 1, "max": 64})}}

    RETURN_TYPES = LATENT
    FUNCTION = "frombatch"
    CATEGORY = "latent/batch"

    def frombatch(self, samples, batch_index, length):
        items = samples["samples"]
        start = min(items.shape[0] - 1, batch_index)
        length = min(items.shape[0] - start, length)
        out = dict(samples)
        out["samples"] = items[start:start + length].clone()
        if "noise_mask" in samples:
            masks = samples["noise_mask"]
            if masks.shape[0] == 1:
                out["noise_mask"] = masks.clone()
            else:
                out["noise_mask"] = _fit_mask_batch(masks, items.shape[0])[start:start + length].clone()
        if "batch_index" in samples:
            out["batch_index"] = list(samples["batch_index"][start:start + length])
        else:
            out["batch_index"] = list(range(start, start + length))
        return (out,)


class RepeatLatentBatch:
    """The batch repeated `amount` times; batch_index continues counting for the copies."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "amount": ("INT", {"default": 1, "min": 1, "max": 64})}}

    RETURN_TYPES = LATENT
    FUNCTION = "repeat"
    CATEGORY = "latent/batch"

    def repeat(self, samples, amount):
        items = samples["samples"]
        out = dict(samples)
        out["samples"] = items.repeat((amount, 1, 1, 1))
        if "noise_mask" in samples and samples["noise_mask"].shape[0] > 1:
            out["noise_mask"] = _fit_mask_batch(samples["noise_mask"], items.shape[0]).repeat((amount, 1, 1, 1))
        if "batch_index" in samples:
            indices = list(samples["batch_index"])
            offset = max(indices) - min(indices) + 1
            out["batch_index"] = indices + [index + copy * offset for copy in range(1, amount) for index in indices]
        return (out,)


def _check_same_channels(node: str, first, second, names: tuple[str, str]) -> None:
    if first.shape[1] != second.shape[1]:
        raise ValueError(f"{node}: inputs '{names[0]}' and '{names[1]}' have {first.shape[1]} and "
                         f"{second.shape[1]} latent channels; they must come from the same kind of model")


class LatentComposite:
    """Paste samples_from into samples_to at (x, y) pixels, optionally with a linear feather at inner edges."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples_to": LATENT, "samples_from": LATENT, "x": _pixels(0, 0),
                             "y": _pixels(0, 0), "feather": _pixels(0, 0)}}

    RETURN_TYPES = LATENT
    FUNCTION = "composite"
    CATEGORY = "latent"

    def composite(self, samples_to, samples_from, x, y, feather):
        import torch

        target, source = samples_to["samples"], samples_from["samples"]
        _check_same_channels("LatentComposite", target, source, ("samples_to", "samples_from"))
        if source.shape[0] not in (1, target.shape[0]):
            raise ValueError(f"LatentComposite: 'samples_from' has batch {source.shape[0]} but 'samples_to' has "
                             f"{target.shape[0]}; use equal batches or a single source latent")
        x, y, feather = x // DOWNSCALE, y // DOWNSCALE, feather // DOWNSCALE
        out = target.clone()
        source = source[:, :, :max(0, target.shape[2] - y), :max(0, target.shape[3] - x)]
        h, w = source.shape[2:]
        weight = torch.ones_like(source)
        if feather > 0 and h and w:
            ramp = torch.arange(1, feather + 1, dtype=source.dtype) / feather
            # Feather only edges that lie inside the target (not those touching its border).
            for edge, inside in (("top", y != 0), ("bottom", y + h < target.shape[2]),
                                 ("left", x != 0), ("right", x + w < target.shape[3])):
                if inside:
                    _feather_edge(weight, ramp, edge)
        region = out[:, :, y:y + h, x:x + w]
        region.copy_(source * weight + region * (1.0 - weight))
        result = dict(samples_to)
        result["samples"] = out
        return (result,)


def _feather_edge(weight, ramp, edge: str) -> None:
    """Multiply the first len(ramp) rows/columns from `edge` inwards by ramp[0], ramp[1], …"""
    count = min(len(ramp), weight.shape[2] if edge in ("top", "bottom") else weight.shape[3])
    ramp = ramp[:count]
    if edge == "top":
        weight[:, :, :count, :] *= ramp.reshape(-1, 1)
    elif edge == "bottom":
        weight[:, :, weight.shape[2] - count:, :] *= ramp.flip(0).reshape(-1, 1)
    elif edge == "left":
        weight[:, :, :, :count] *= ramp
    else:
        weight[:, :, :, weight.shape[3] - count:] *= ramp.flip(0)


class LatentBlend:
    """samples1 · blend_factor + samples2 · (1 − blend_factor); samples2 is resized (bicubic) if sizes differ."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples1": LATENT, "samples2": LATENT,
                             "blend_factor": ("FLOAT", {"default": 0.5, "min": 0, "max": 1, "step": 0.01})}}

    RETURN_TYPES = LATENT
    FUNCTION = "blend"
    CATEGORY = "_for_testing"

    def blend(self, samples1, samples2, blend_factor):
        from runtime.imaging.resample import upscale

        first, second = samples1["samples"], samples2["samples"]
        _check_same_channels("LatentBlend", first, second, ("samples1", "samples2"))
        if first.shape != second.shape:
            second = upscale(second, first.shape[3], first.shape[2], "bicubic", crop="center")
        out = dict(samples1)
        out["samples"] = first * blend_factor + second * (1 - blend_factor)
        return (out,)


class SetLatentNoiseMask:
    """Attach a mask (1 = regenerate) as noise_mask `[B,1,H,W]`; the sampler keeps the rest of the latent."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "mask": ("MASK",)}}

    RETURN_TYPES = LATENT
    FUNCTION = "set_mask"
    CATEGORY = "latent/inpaint"

    def set_mask(self, samples, mask):
        out = dict(samples)
        out["noise_mask"] = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
        return (out,)


class LatentCompositeMasked:
    """Paste source into destination at (x, y) pixels through an optional mask."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_mask"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"destination": LATENT, "source": LATENT, "x": _pixels(0, 0), "y": _pixels(0, 0),
                             "resize_source": ("BOOLEAN", {"default": False})},
                "optional": {"mask": ("MASK",)}}

    RETURN_TYPES = LATENT
    FUNCTION = "composite"
    CATEGORY = "latent"

    def composite(self, destination, source, x, y, resize_source, mask=None):
        from runtime.imaging.compositing import composite

        _check_same_channels("LatentCompositeMasked", destination["samples"], source["samples"],
                             ("destination", "source"))
        out = dict(destination)
        out["samples"] = composite(destination["samples"], source["samples"], x, y, mask, DOWNSCALE, resize_source)
        return (out,)


class LatentRotate:
    """Rotate clockwise by 90, 180 or 270 degrees."""

    ROTATIONS = ["none", "90 degrees", "180 degrees", "270 degrees"]

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "rotation": (cls.ROTATIONS,)}}

    RETURN_TYPES = LATENT
    FUNCTION = "rotate"
    CATEGORY = "latent/transform"

    def rotate(self, samples, rotation):
        import torch

        out = dict(samples)
        out["samples"] = torch.rot90(samples["samples"], k=self.ROTATIONS.index(rotation), dims=[3, 2])
        return (out,)


class LatentFlip:
    """Mirror top-bottom (x-axis) or left-right (y-axis)."""

    FLIPS = {"x-axis: vertically": 2, "y-axis: horizontally": 3}

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "flip_method": (list(cls.FLIPS),)}}

    RETURN_TYPES = LATENT
    FUNCTION = "flip"
    CATEGORY = "latent/transform"

    def flip(self, samples, flip_method):
        import torch

        out = dict(samples)
        out["samples"] = torch.flip(samples["samples"], dims=[self.FLIPS[flip_method]])
        return (out,)


class LatentCrop:
    """The width × height pixel window at (x, y); the window start keeps at least 64 pixels inside."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "width": _pixels(512, 64), "height": _pixels(512, 64),
                             "x": _pixels(0, 0), "y": _pixels(0, 0)}}

    RETURN_TYPES = LATENT
    FUNCTION = "crop"
    CATEGORY = "latent/transform"

    def crop(self, samples, width, height, x, y):
        items = samples["samples"]
        x = max(0, min(x // DOWNSCALE, items.shape[3] - 8))
        y = max(0, min(y // DOWNSCALE, items.shape[2] - 8))
        out = dict(samples)
        out["samples"] = items[:, :, y:y + height // DOWNSCALE, x:x + width // DOWNSCALE]
        return (out,)


class EmptySD3LatentImage:
    """Zeros of shape [batch_size, 16, height // 8, width // 8]: the empty latent of SD3, Flux and most DiT
    families."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_sd3"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": _pixels(1024, 16, step=16), "height": _pixels(1024, 16, step=16),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    RETURN_TYPES = LATENT
    FUNCTION = "generate"
    CATEGORY = "model/latent/stable diffusion"

    def generate(self, width, height, batch_size=1):
        import torch

        samples = torch.zeros([batch_size, 16, height // DOWNSCALE, width // DOWNSCALE])
        return ({"samples": samples, "downscale_ratio_spacial": DOWNSCALE},)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    EmptyLatentImage, EmptySD3LatentImage, LatentUpscale, LatentUpscaleBy, LatentFromBatch, RepeatLatentBatch,
    LatentComposite, LatentBlend, SetLatentNoiseMask, LatentCompositeMasked, LatentRotate, LatentFlip, LatentCrop)}

NODE_DISPLAY_NAME_MAPPINGS = {
    "EmptyLatentImage": "Empty Latent Image",
    "LatentUpscale": "Upscale Latent",
    "LatentUpscaleBy": "Upscale Latent By",
    "LatentFromBatch": "Latent From Batch",
    "RepeatLatentBatch": "Repeat Latent Batch",
    "LatentComposite": "Latent Composite",
    "LatentBlend": "Latent Blend",
    "SetLatentNoiseMask": "Set Latent Noise Mask",
    "LatentRotate": "Rotate Latent",
    "LatentFlip": "Flip Latent",
    "LatentCrop": "Crop Latent",
}
