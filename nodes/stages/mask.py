"""Mask nodes (spec §8.7): making, inverting, combining, growing, feathering, cropping and converting MASK
tensors `[B,H,W]` (floats 0..1, 1 = selected)."""

from __future__ import annotations

from nodes.constants import MAX_RESOLUTION
from runtime.imaging import MASK_OPERATIONS
from nodes.inputs import combo
from nodes.stages.image import HIDDEN_METADATA, preview_prefix, save_images

MASK, IMAGE = ("MASK",), ("IMAGE",)
MASK_MODULE = "comfy_extras.nodes_mask"  # where ComfyUI's (V3) mask nodes report they come from
IMAGE_CHANNELS = ["red", "green", "blue", "alpha"]


def _int(default: int, minimum: int, maximum: int = MAX_RESOLUTION, **extra) -> tuple:
    return ("INT", {"default": default, "min": minimum, "max": maximum, "step": 1, **extra})


def _unit_float(default: float) -> tuple:
    return ("FLOAT", {"default": default, "min": 0.0, "max": 1.0, "step": 0.01})


def _stack(mask):
    return mask.reshape(-1, mask.shape[-2], mask.shape[-1])


class _MaskNode:
    """Shared declaration bits: one MASK output in the `mask` category."""

    RELATIVE_PYTHON_MODULE = MASK_MODULE
    OBJECT_INFO_V3 = True
    RETURN_TYPES = MASK
    CATEGORY = "mask"


class SolidMask(_MaskNode):
    """A `[1,height,width]` mask filled with value."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": _unit_float(1.0), "width": _int(512, 1), "height": _int(512, 1)}}

    FUNCTION = "solid"

    def solid(self, value, width, height):
        import torch

        return (torch.full((1, height, width), value, dtype=torch.float32),)


class InvertMask(_MaskNode):
    """1 − mask."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK", {})}}

    FUNCTION = "invert"

    def invert(self, mask):
        return (1.0 - mask,)


class MaskComposite(_MaskNode):
    """Combine source into destination in the window at (x, y); result clamped to 0..1."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"destination": ("MASK", {}), "source": ("MASK", {}), "x": _int(0, 0),
                             "y": _int(0, 0), "operation": combo(MASK_OPERATIONS)}}

    FUNCTION = "combine"

    def combine(self, destination, source, x, y, operation):
        from runtime.imaging.masks import combine_masks

        destination_batch, source_batch = _stack(destination).shape[0], _stack(source).shape[0]
        if source_batch not in (1, destination_batch):
            raise ValueError(f"MaskComposite: input 'source' has batch {source_batch} but 'destination' has "
                             f"{destination_batch}")
        return (combine_masks(destination, source, x, y, operation),)


class GrowMask(_MaskNode):
    """Grow (expand > 0) or shrink (expand < 0) by |expand| pixels."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK", {}), "expand": _int(0, -MAX_RESOLUTION),
                             "tapered_corners": ("BOOLEAN", {"default": True})}}

    FUNCTION = "expand_mask"

    def expand_mask(self, mask, expand, tapered_corners):
        from runtime.imaging.masks import grow_mask

        return (grow_mask(mask, expand, tapered_corners),)


class FeatherMask(_MaskNode):
    """Fade the outer left/top/right/bottom pixels linearly to the edge."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK", {}), "left": _int(0, 0), "top": _int(0, 0),
                             "right": _int(0, 0), "bottom": _int(0, 0)}}

    FUNCTION = "feather"

    def feather(self, mask, left, top, right, bottom):
        from runtime.imaging.masks import feather_mask

        return (feather_mask(mask, left, top, right, bottom),)


class ImageToMask(_MaskNode):
    """One channel of an image as a mask."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "channel": combo(IMAGE_CHANNELS)}}

    FUNCTION = "image_to_mask"

    def image_to_mask(self, image, channel):
        index = IMAGE_CHANNELS.index(channel)
        if image.shape[-1] <= index:
            raise ValueError(f"ImageToMask: input 'image' has {image.shape[-1]} channels, so it has no "
                             f"{channel} channel")
        return (image[..., index],)


class MaskToImage:
    """A mask as a grey RGB image."""

    RELATIVE_PYTHON_MODULE = MASK_MODULE
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK", {})}}

    RETURN_TYPES = IMAGE
    FUNCTION = "mask_to_image"
    CATEGORY = "mask"

    def mask_to_image(self, mask):
        return (_stack(mask).unsqueeze(-1).expand(-1, -1, -1, 3).clone(),)


class ImageColorToMask(_MaskNode):
    """1 where the pixel's 8-bit colour equals color (0xRRGGBB), else 0."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "color": _int(0, 0, 0xFFFFFF, display="color")}}

    FUNCTION = "image_to_mask"

    def image_to_mask(self, image, color):
        import torch

        rgb = (image[..., :3].clamp(0, 1) * 255.0).round().to(torch.int64)
        packed = (rgb[..., 0] << 16) + (rgb[..., 1] << 8) + rgb[..., 2]
        return ((packed == color).float(),)


class CropMask(_MaskNode):
    """The width × height window at (x, y)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK", {}), "x": _int(0, 0), "y": _int(0, 0),
                             "width": _int(512, 1), "height": _int(512, 1)}}

    FUNCTION = "crop"

    def crop(self, mask, x, y, width, height):
        return (_stack(mask)[:, y:y + height, x:x + width],)


class ThresholdMask(_MaskNode):
    """1 where mask > value, else 0."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK", {}), "value": _unit_float(0.5)}}

    FUNCTION = "threshold"

    def threshold(self, mask, value):
        return ((mask > value).float(),)


class MaskPreview:
    """Show a mask as a grey image (saved to the temp folder)."""

    RELATIVE_PYTHON_MODULE = MASK_MODULE
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK", {})}, "hidden": dict(HIDDEN_METADATA)}

    RETURN_TYPES = ()
    FUNCTION = "preview"
    OUTPUT_NODE = True
    CATEGORY = "mask"

    def __init__(self):
        self.prefix = preview_prefix()

    def preview(self, mask, prompt=None, extra_pnginfo=None):
        (image,) = MaskToImage().mask_to_image(mask)
        return save_images(image, self.prefix, "temp", prompt, extra_pnginfo, compress_level=1, node="MaskPreview")


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    SolidMask, InvertMask, MaskComposite, GrowMask, FeatherMask, ImageToMask, MaskToImage, ImageColorToMask,
    CropMask, ThresholdMask, MaskPreview)}

NODE_DISPLAY_NAME_MAPPINGS = {
    "GrowMask": "Grow Mask",
    "ImageToMask": "Convert Image to Mask",
    "MaskToImage": "Convert Mask to Image",
    "MaskPreview": "Preview Mask",
}
