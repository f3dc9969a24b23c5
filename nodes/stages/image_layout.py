"""Arranging images: ImageStitch (two images side by side or stacked) and RebatchImages (regroup a batch stream)."""

from __future__ import annotations

DIRECTIONS = ["right", "down", "left", "up"]
# Spacer colours: one grey level, or an RGB triple (then padding for unmatched sizes is black).
SPACING_COLORS = {"white": 1.0, "black": 0.0, "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0),
                  "blue": (0.0, 0.0, 1.0)}


def _extend_batch(image, batch_size: int):
    """Repeat the last item until the batch has batch_size items."""
    import torch

    missing = batch_size - image.shape[0]
    return torch.cat([image, image[-1:].repeat(missing, 1, 1, 1)]) if missing > 0 else image


def _pad_centered(image, axis: int, size: int, value: float):
    """Pad `[B,H,W,C]` along axis 1 (height) or 2 (width) to `size`, half before and half after."""
    import torch.nn.functional as F

    missing = size - image.shape[axis]
    if missing <= 0:
        return image
    before, after = missing // 2, missing - missing // 2
    padding = (0, 0, 0, 0, before, after) if axis == 1 else (0, 0, before, after)
    return F.pad(image, padding, value=value)


def _spacer(reference, other, width: int, horizontal: bool, color):
    import torch

    height_or_width = max(reference.shape[1 if horizontal else 2], other.shape[1 if horizontal else 2])
    shape = ((reference.shape[0], height_or_width, width, reference.shape[-1]) if horizontal
             else (reference.shape[0], width, height_or_width, reference.shape[-1]))
    spacer = torch.zeros(shape, dtype=reference.dtype)
    rgb = color if isinstance(color, tuple) else (color,) * 3
    channels = min(3, spacer.shape[-1])
    spacer[..., :channels] = torch.tensor(rgb[:channels], dtype=reference.dtype)
    if spacer.shape[-1] == 4:
        spacer[..., 3] = 1.0
    return spacer


class ImageStitch:
    """Put image2 to the right/left of or below/above image1, optionally resized to match and with a spacer."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_images"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image1": ("IMAGE", {}),
                             "direction": ("COMBO", {"default": "right", "multiselect": False, "options": DIRECTIONS}),
                             "match_image_size": ("BOOLEAN", {"default": True}),
                             "spacing_width": ("INT", {"default": 0, "min": 0, "max": 1024, "step": 2}),
                             "spacing_color": ("COMBO", {"default": "white", "multiselect": False,
                                                         "options": list(SPACING_COLORS)})},
                "optional": {"image2": ("IMAGE", {})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "stitch"
    CATEGORY = "image/transform"

    def stitch(self, image1, direction, match_image_size, spacing_width, spacing_color, image2=None):
        import torch

        from runtime.imaging.compositing import match_channels
        from runtime.imaging.resample import upscale

        if image2 is None:
            return (image1,)
        horizontal = direction in ("left", "right")
        batch = max(image1.shape[0], image2.shape[0])
        image1, image2 = _extend_batch(image1, batch), _extend_batch(image2, batch)
        color = SPACING_COLORS[spacing_color]
        if match_image_size:
            (h1, w1), (h2, w2) = image1.shape[1:3], image2.shape[1:3]
            aspect = w2 / h2
            size = (int(h1 * aspect), h1) if horizontal else (w1, int(w1 / aspect))
            image2 = upscale(image2.movedim(-1, 1), size[0], size[1], "lanczos").movedim(1, -1)
        else:
            pad_value = 0.0 if isinstance(color, tuple) else color
            axis = 1 if horizontal else 2
            target = max(image1.shape[axis], image2.shape[axis])
            image1, image2 = (_pad_centered(image, axis, target, pad_value) for image in (image1, image2))
        channels = max(image1.shape[-1], image2.shape[-1])
        image1, image2 = match_channels(image1, channels), match_channels(image2, channels)
        parts = [image2, image1] if direction in ("left", "up") else [image1, image2]
        if spacing_width > 0:
            even_width = spacing_width + spacing_width % 2
            parts.insert(1, _spacer(image1, image2, even_width, horizontal, color))
        return (torch.cat(parts, dim=2 if horizontal else 1),)


class RebatchImages:
    """Regroup every incoming image into batches of batch_size (the last may be smaller)."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_rebatch"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE", {}), "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    RETURN_TYPES = ("IMAGE",)
    INPUT_IS_LIST = True
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "rebatch"
    CATEGORY = "image/batch"

    def rebatch(self, images, batch_size):
        import torch

        size = batch_size[0]
        singles = [image[i:i + 1] for image in images for i in range(image.shape[0])]
        batches = []
        for start in range(0, len(singles), size):
            group = singles[start:start + size]
            shapes = sorted({tuple(single.shape[1:]) for single in group})
            if len(shapes) > 1:
                raise ValueError(f"RebatchImages: input 'images' puts images of sizes {shapes} into one batch; "
                                 "resize them to one size first")
            batches.append(torch.cat(group))
        return (batches,)


NODE_CLASS_MAPPINGS = {"ImageStitch": ImageStitch, "RebatchImages": RebatchImages}
NODE_DISPLAY_NAME_MAPPINGS = {"ImageStitch": "Image Stitch", "RebatchImages": "Rebatch Images"}
