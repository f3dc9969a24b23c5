"""Image nodes (spec §8.6): loading from the input folder, saving/previewing PNGs with workflow metadata,
resizing, cropping, padding, batching and compositing IMAGE tensors `[B,H,W,C]` (floats 0..1)."""

from __future__ import annotations

import random

from nodes.constants import MAX_RESOLUTION
from nodes.inputs import check_image, combo
from runtime.imaging import CROP_METHODS, IMAGE_UPSCALE_METHODS, files
from runtime.settings import current

IMAGE, MASK = ("IMAGE",), ("MASK",)
HIDDEN_METADATA = {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}
# ComfyUI's preview-name alphabet, reproduced as is: it has "p" twice and no "w" (spec §12).
PREVIEW_SUFFIX_ALPHABET = "abcdefghijklmnopqrstupvxyz"


def _int(default: int, minimum: int, maximum: int = MAX_RESOLUTION, step: int = 1, **extra) -> tuple:
    return ("INT", {"default": default, "min": minimum, "max": maximum, "step": step, **extra})


def _validate_image_file(image: str) -> bool | str:
    return True if files.annotated_path_exists(image) else f"Invalid image file: {image}"


def _image_file_hash(image: str) -> str:
    return files.file_sha256(files.annotated_path(image))


class LoadImage:
    """An image from the input folder as IMAGE (all frames of the first frame's size) and 1 − alpha as MASK."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (files.input_files(images_only=True), {"image_upload": True})}}

    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"
    CATEGORY = "image"

    def load_image(self, image):
        from runtime.imaging.pictures import load_image

        return load_image(files.annotated_path(image), node=type(self).__name__)

    @classmethod
    def IS_CHANGED(cls, image):
        return _image_file_hash(image)

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return _validate_image_file(image)


class LoadImageOutput(LoadImage):
    """LoadImage for pictures in the output folder; the editor sends names such as `x.png [output]`."""

    @classmethod
    def INPUT_TYPES(cls):
        remote = {"route": "/internal/files/output", "refresh_button": True, "control_after_refresh": "first"}
        return {"required": {"image": ("COMBO", {"image_upload": True, "image_folder": "output", "remote": remote})}}

    EXPERIMENTAL = True


class LoadImageMask:
    """One channel of an input-folder image as MASK (alpha inverted: 1 = transparent)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (files.input_files(images_only=False), {"image_upload": True}),
                             "channel": (["alpha", "red", "green", "blue"],)}}

    RETURN_TYPES = MASK
    FUNCTION = "load_image"
    CATEGORY = "mask"

    def load_image(self, image, channel):
        from runtime.imaging.pictures import load_mask

        return (load_mask(files.annotated_path(image), channel, node="LoadImageMask"),)

    @classmethod
    def IS_CHANGED(cls, image, channel):
        return _image_file_hash(image)

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return _validate_image_file(image)


def save_images(images, filename_prefix: str, folder_kind: str, prompt=None, extra_pnginfo=None,
                compress_level: int = 4, node: str = "SaveImage") -> dict:
    """Write every image of a batch as PNG with metadata chunks; returns the node's `ui` result."""
    from runtime.imaging.pictures import to_pil
    from runtime.imaging.png_metadata import metadata_chunks, save_png

    check_image(node, "images", images)
    folder = current().paths.directory_for(folder_kind)
    try:
        target = files.save_target(filename_prefix, folder, images.shape[2], images.shape[1])
    except ValueError as error:
        raise ValueError(f"{node}: input 'filename_prefix': {error}") from None
    chunks = metadata_chunks(prompt, extra_pnginfo)
    results = []
    for batch_number, image in enumerate(images):
        name = target.next_name(batch_number)
        save_png(target.folder / name, to_pil(image), chunks, compress_level)
        results.append({"filename": name, "subfolder": target.subfolder, "type": folder_kind})
    return {"ui": {"images": results}}


class SaveImage:
    """Save each image to the output folder as `<prefix>_<counter:05>_.png` with prompt/workflow chunks."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE", {}), "filename_prefix": ("STRING", {"default": "ComfyUI"})},
                "hidden": dict(HIDDEN_METADATA)}

    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    CATEGORY = "image"

    def save_images(self, images, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        return save_images(images, filename_prefix, "output", prompt, extra_pnginfo, compress_level=4)


def preview_prefix() -> str:
    """`ComfyUI_temp_<5 random letters>`: a fresh name per node instance, in the temp folder."""
    return "ComfyUI_temp_" + "".join(random.choice(PREVIEW_SUFFIX_ALPHABET) for _ in range(5))


class PreviewImage:
    """Save to the temp folder (fast PNG compression) so the UI can show the images."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": IMAGE}, "hidden": dict(HIDDEN_METADATA)}

    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    CATEGORY = "image"

    def __init__(self):
        self.prefix = preview_prefix()

    def save_images(self, images, prompt=None, extra_pnginfo=None):
        return save_images(images, self.prefix, "temp", prompt, extra_pnginfo, compress_level=1,
                           node=type(self).__name__)


def _scale(image, method: str, width: int, height: int, crop: str = "disabled"):
    from runtime.imaging.resample import upscale

    return upscale(image.movedim(-1, 1), width, height, method, crop).movedim(1, -1)


class ImageScale:
    """Resize to width × height (one side 0 keeps the aspect ratio; both 0 leaves the image as it is)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": IMAGE, "upscale_method": (IMAGE_UPSCALE_METHODS,),
                             "width": _int(512, 0), "height": _int(512, 0), "crop": (CROP_METHODS,)}}

    RETURN_TYPES = IMAGE
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    def upscale(self, image, upscale_method, width, height, crop):
        check_image("ImageScale", "image", image)
        if width == 0 and height == 0:
            return (image,)
        if width == 0:
            width = max(1, round(image.shape[2] * height / image.shape[1]))
        elif height == 0:
            height = max(1, round(image.shape[1] * width / image.shape[2]))
        return (_scale(image, upscale_method, width, height, crop),)


class ImageScaleBy:
    """Resize both sides by scale_by (rounded)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": IMAGE, "upscale_method": (IMAGE_UPSCALE_METHODS,),
                             "scale_by": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01})}}

    RETURN_TYPES = IMAGE
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    def upscale(self, image, upscale_method, scale_by):
        check_image("ImageScaleBy", "image", image)
        width, height = round(image.shape[2] * scale_by), round(image.shape[1] * scale_by)
        return (_scale(image, upscale_method, max(1, width), max(1, height)),)


class ImageScaleToTotalPixels:
    """Resize to about `megapixels` × 1024² pixels, keeping the aspect, sides rounded to resolution_steps."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_post_processing"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "upscale_method": combo(IMAGE_UPSCALE_METHODS),
                             "megapixels": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 16.0, "step": 0.01}),
                             "resolution_steps": ("INT", {"default": 1, "min": 1, "max": 256})}}

    RETURN_TYPES = IMAGE
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    def upscale(self, image, upscale_method, megapixels, resolution_steps=1):
        import math

        check_image("ImageScaleToTotalPixels", "image", image)
        scale_by = math.sqrt(megapixels * 1024 * 1024 / (image.shape[2] * image.shape[1]))
        width = round(image.shape[2] * scale_by / resolution_steps) * resolution_steps
        height = round(image.shape[1] * scale_by / resolution_steps) * resolution_steps
        return (_scale(image, upscale_method, max(resolution_steps, width), max(resolution_steps, height)),)


class ImageInvert:
    """1 − x."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": IMAGE}}

    RETURN_TYPES = IMAGE
    FUNCTION = "invert"
    CATEGORY = "image"

    def invert(self, image):
        return (1.0 - image,)


class ImageBatch:
    """image1 followed by image2 (resized bilinearly with a centre crop to image1's size if needed)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image1": IMAGE, "image2": IMAGE}}

    RETURN_TYPES = IMAGE
    FUNCTION = "batch"
    CATEGORY = "image"
    DEPRECATED = True

    def batch(self, image1, image2):
        import torch

        from runtime.imaging.compositing import match_channels

        check_image("ImageBatch", "image1", image1)
        check_image("ImageBatch", "image2", image2)
        channels = max(image1.shape[-1], image2.shape[-1])
        image1, image2 = match_channels(image1, channels), match_channels(image2, channels)
        if image1.shape[1:] != image2.shape[1:]:
            image2 = _scale(image2, "bilinear", image1.shape[2], image1.shape[1], "center")
        return (torch.cat((image1, image2), dim=0),)


class ImagePadForOutpaint:
    """Add grey borders and a mask of the new area (feathered into the original near padded edges)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": IMAGE, "left": _int(0, 0, step=8), "top": _int(0, 0, step=8),
                             "right": _int(0, 0, step=8), "bottom": _int(0, 0, step=8),
                             "feathering": _int(40, 0)}}

    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "expand_image"
    CATEGORY = "image"

    def expand_image(self, image, left, top, right, bottom, feathering):
        from runtime.imaging.compositing import pad_for_outpaint

        check_image("ImagePadForOutpaint", "image", image)
        return pad_for_outpaint(image, left, top, right, bottom, feathering)


class ImageCrop:
    """The width × height window at (x, y), clipped to the image."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_images"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "width": _int(512, 1), "height": _int(512, 1),
                             "x": _int(0, 0), "y": _int(0, 0)}}

    RETURN_TYPES = IMAGE
    FUNCTION = "crop"
    CATEGORY = "image/transform"

    def crop(self, image, width, height, x, y):
        check_image("ImageCrop", "image", image)
        x, y = min(x, image.shape[2] - 1), min(y, image.shape[1] - 1)
        return (image[:, y:y + height, x:x + width, :],)


class EmptyImage:
    """A batch of solid-colour images; color is 0xRRGGBB."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": _int(512, 1), "height": _int(512, 1),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
                             "color": _int(0, 0, 0xFFFFFF, display="color")}}

    RETURN_TYPES = IMAGE
    FUNCTION = "generate"
    CATEGORY = "image"

    def generate(self, width, height, batch_size=1, color=0):
        import torch

        rgb = torch.tensor([(color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF], dtype=torch.float32) / 255
        return (rgb.expand(batch_size, height, width, 3).clone(),)


class ImageCompositeMasked:
    """Paste source onto destination at (x, y) through an optional mask (1 = source)."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_mask"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"destination": ("IMAGE", {}), "source": ("IMAGE", {}), "x": _int(0, 0),
                             "y": _int(0, 0), "resize_source": ("BOOLEAN", {"default": False})},
                "optional": {"mask": ("MASK", {})}}

    RETURN_TYPES = IMAGE
    FUNCTION = "composite"
    CATEGORY = "image"

    def composite(self, destination, source, x, y, resize_source, mask=None):
        from runtime.imaging.compositing import composite, match_channels

        check_image("ImageCompositeMasked", "destination", destination)
        check_image("ImageCompositeMasked", "source", source)
        source = match_channels(source, destination.shape[-1])
        out = composite(destination.movedim(-1, 1), source.movedim(-1, 1), x, y, mask, 1, resize_source)
        return (out.movedim(1, -1),)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    LoadImage, LoadImageOutput, LoadImageMask, SaveImage, PreviewImage, ImageScale, ImageScaleBy, ImageScaleToTotalPixels,
    ImageInvert, ImageBatch, ImagePadForOutpaint, ImageCrop, EmptyImage, ImageCompositeMasked)}

NODE_DISPLAY_NAME_MAPPINGS = {
    "LoadImage": "Load Image",
    "LoadImageOutput": "Load Image (from Outputs)",
    "LoadImageMask": "Load Image (as Mask)",
    "SaveImage": "Save Image",
    "PreviewImage": "Preview Image",
    "ImageScale": "Upscale Image",
    "ImageScaleBy": "Upscale Image By",
    "ImageInvert": "Invert Image",
    "ImageBatch": "Batch Images",
    "ImagePadForOutpaint": "Pad Image for Outpainting",
    "ImageCrop": "Image Crop",
}
