"""Image post-processing nodes: ImageBlend, ImageBlur, ImageSharpen, ImageQuantize and Morphology."""

from __future__ import annotations

from nodes.inputs import check_image, combo

IMAGE = ("IMAGE",)
CATEGORY = "image/postprocessing"
BLEND_MODES = ["normal", "multiply", "screen", "overlay", "soft_light", "difference"]
DITHER_METHODS = ["none", "floyd-steinberg", "bayer-2", "bayer-4", "bayer-8", "bayer-16"]
MORPHOLOGY_OPERATIONS = ["erode", "dilate", "open", "close", "gradient", "bottom_hat", "top_hat"]


def _float(default: float, minimum: float, maximum: float, step: float) -> tuple:
    return ("FLOAT", {"default": default, "min": minimum, "max": maximum, "step": step})


def _radius() -> tuple:
    return ("INT", {"default": 1, "min": 1, "max": 31, "step": 1})


class _Filter:
    RETURN_TYPES = IMAGE
    CATEGORY = CATEGORY


class ImageBlend(_Filter):
    """image1 mixed with its blend with image2 (normal, multiply, screen, overlay, soft light, difference)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image1": ("IMAGE", {}), "image2": ("IMAGE", {}),
                             "blend_factor": _float(0.5, 0.0, 1.0, 0.01), "blend_mode": combo(BLEND_MODES)}}

    FUNCTION = "blend_images"

    def blend_images(self, image1, image2, blend_factor, blend_mode):
        from runtime.imaging.filters import blend

        check_image("ImageBlend", "image1", image1)
        check_image("ImageBlend", "image2", image2)
        return (blend(image1, image2, blend_factor, blend_mode),)


class ImageBlur(_Filter):
    """Gaussian blur with a (2·blur_radius+1)² kernel; sigma is relative to the radius."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "blur_radius": _radius(),
                             "sigma": _float(1.0, 0.1, 10.0, 0.1)}}

    FUNCTION = "blur"

    def blur(self, image, blur_radius, sigma):
        from runtime.imaging.filters import blur

        check_image("ImageBlur", "image", image)
        return (blur(image, blur_radius, sigma),)


class ImageSharpen(_Filter):
    """Unsharp masking with a Gaussian of sharpen_radius; alpha is the strength."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "sharpen_radius": _radius(),
                             "sigma": _float(1.0, 0.1, 10.0, 0.01), "alpha": _float(1.0, 0.0, 5.0, 0.01)}}

    FUNCTION = "sharpen"

    def sharpen(self, image, sharpen_radius, sigma, alpha):
        from runtime.imaging.filters import sharpen

        check_image("ImageSharpen", "image", image)
        return (sharpen(image, sharpen_radius, sigma, alpha),)


class ImageQuantize(_Filter):
    """Reduce to `colors` palette colours, without dithering, Floyd–Steinberg or an ordered Bayer pattern."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "colors": ("INT", {"default": 256, "min": 1, "max": 256,
                                                                          "step": 1}),
                             "dither": combo(DITHER_METHODS)}}

    FUNCTION = "quantize"

    def quantize(self, image, colors, dither):
        from runtime.imaging.filters import quantize

        check_image("ImageQuantize", "image", image)
        return (quantize(image, colors, dither),)


class Morphology(_Filter):
    """Grey morphology with a flat kernel_size² square: erode, dilate, open, close, gradient, top/bottom hat."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {}), "operation": combo(MORPHOLOGY_OPERATIONS),
                             "kernel_size": ("INT", {"default": 3, "min": 3, "max": 999, "step": 1})}}

    FUNCTION = "process"

    def process(self, image, operation, kernel_size):
        from runtime.imaging.filters import morphology

        check_image("Morphology", "image", image)
        return (morphology(image, operation, kernel_size),)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (ImageBlend, ImageBlur, ImageSharpen, ImageQuantize, Morphology)}
NODE_DISPLAY_NAME_MAPPINGS = {"ImageBlend": "Image Blend", "ImageBlur": "Image Blur", "ImageSharpen": "Image Sharpen",
                              "ImageQuantize": "Image Quantize", "Morphology": "ImageMorphology"}
