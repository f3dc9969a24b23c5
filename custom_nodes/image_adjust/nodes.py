"""Image adjustment nodes: one-knob-per-effect adjustments, levels, auto contrast and a colour tint.

Torch is imported inside the node functions (through `.adjust`), so loading the pack at start-up stays fast.
"""

import re

from comfy.comfy_types import IO
from comfy.utils import ProgressBar

CATEGORY = "image/adjust"
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _slider(default, low, high, step, tooltip):
    return ("FLOAT", {"default": default, "min": low, "max": high, "step": step, "display": "slider",
                      "tooltip": tooltip})


def parse_hex_color(text: str) -> tuple[float, float, float]:
    return tuple(int(text[i:i + 2], 16) / 255 for i in (1, 3, 5))


class ImageAdjust:
    DESCRIPTION = "Brightness, contrast, saturation, hue and gamma in one node, optionally only where a mask is set."
    CATEGORY = CATEGORY
    RETURN_TYPES = (IO.IMAGE,)
    FUNCTION = "adjust"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": (IO.IMAGE,),
            "brightness": _slider(0.0, -1.0, 1.0, 0.01, "added to every channel"),
            "contrast": _slider(1.0, 0.0, 3.0, 0.01, "1 keeps the image; 0 is flat grey"),
            "saturation": _slider(1.0, 0.0, 3.0, 0.01, "1 keeps the image; 0 is greyscale"),
            "hue": ("FLOAT", {"default": 0.0, "min": -180.0, "max": 180.0, "step": 1.0,
                              "tooltip": "rotation of the colours in degrees"}),
            "gamma": _slider(1.0, 0.1, 5.0, 0.01, "above 1 brightens mid-tones, below 1 darkens them"),
        }, "optional": {"mask": (IO.MASK, {"tooltip": "adjust only where the mask is 1"})}}

    def adjust(self, image, brightness, contrast, saturation, hue, gamma, mask=None):
        from . import adjust as ops

        def chain(rgb):
            rgb = ops.brightness(rgb, brightness)
            rgb = ops.contrast(rgb, contrast)
            rgb = ops.saturation(rgb, saturation)
            rgb = ops.hue_rotate(rgb, hue) if hue else rgb
            return ops.gamma(rgb, gamma)

        return (ops.apply_rgb(image, chain, mask),)


class ImageLevels:
    DESCRIPTION = "Photo-editor levels: input black and white points, mid-tone gamma, output range."
    CATEGORY = CATEGORY
    RETURN_TYPES = (IO.IMAGE,)
    FUNCTION = "levels"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": (IO.IMAGE,),
            "black_point": _slider(0.0, 0.0, 1.0, 0.01, "input value that becomes black"),
            "white_point": _slider(1.0, 0.0, 1.0, 0.01, "input value that becomes white"),
            "gamma": _slider(1.0, 0.1, 10.0, 0.01, "mid-tone gamma"),
            "output_black": _slider(0.0, 0.0, 1.0, 0.01, "darkest output value"),
            "output_white": _slider(1.0, 0.0, 1.0, 0.01, "brightest output value"),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, black_point, white_point):
        # Declaring these parameters turns off the executor's min/max check for them, so check the range here too.
        if black_point is None or white_point is None:
            return True  # linked inputs are checked when they arrive
        if not 0.0 <= black_point < white_point <= 1.0:
            return f"need 0 <= black_point < white_point <= 1, got {black_point} and {white_point}"
        return True

    def levels(self, image, black_point, white_point, gamma, output_black, output_white):
        from . import adjust as ops

        return (ops.apply_rgb(image, lambda rgb: ops.levels(rgb, black_point, white_point, gamma,
                                                            output_black, output_white)),)


class ImageAutoContrast:
    DESCRIPTION = "Stretch each image so its darkest and brightest pixels (ignoring a small percentage) span 0..1."
    CATEGORY = CATEGORY
    RETURN_TYPES = (IO.IMAGE,)
    FUNCTION = "stretch"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": (IO.IMAGE,),
            "cutoff": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 49.0, "step": 0.1,
                                 "tooltip": "percent of darkest and of brightest pixels ignored"}),
            "per_channel": ("BOOLEAN", {"default": False, "tooltip": "stretch R, G and B separately "
                                                                     "(also corrects colour casts)"}),
        }}

    def stretch(self, image, cutoff, per_channel):
        import torch

        from . import adjust as ops

        progress = ProgressBar(image.shape[0])
        out = []
        for picture in image:
            out.append(ops.apply_rgb(picture[None], lambda rgb: ops.auto_contrast(rgb[0], cutoff, per_channel)[None]))
            progress.update(1)
        return (torch.cat(out),)


class ImageTint:
    DESCRIPTION = "Colourise an image with one colour, keeping its light and shade."
    CATEGORY = CATEGORY
    RETURN_TYPES = (IO.IMAGE,)
    FUNCTION = "tint"

    @classmethod
    def INPUT_TYPES(cls):
        # ADJUST_COLOR is drawn as a colour picker by web/color_widget.js; its value is a "#rrggbb" string.
        return {"required": {
            "image": (IO.IMAGE,),
            "color": ("ADJUST_COLOR", {"default": "#ffb066", "tooltip": "the tint, as #rrggbb"}),
            "strength": _slider(0.5, 0.0, 1.0, 0.01, "0 keeps the image; 1 is fully tinted"),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, color):
        if color is not None and not (isinstance(color, str) and HEX_COLOR.match(color)):
            return f"color must be a #rrggbb hex string, got {color!r}"
        return True

    def tint(self, image, color, strength):
        from . import adjust as ops

        rgb = parse_hex_color(color)
        return (ops.apply_rgb(image, lambda x: ops.tint(x, rgb, strength)),)


NODE_CLASS_MAPPINGS = {"ImageAdjust": ImageAdjust, "ImageLevels": ImageLevels,
                       "ImageAutoContrast": ImageAutoContrast, "ImageTint": ImageTint}
NODE_DISPLAY_NAME_MAPPINGS = {"ImageAdjust": "Adjust Image (brightness, contrast, saturation, hue, gamma)",
                              "ImageLevels": "Image Levels", "ImageAutoContrast": "Auto Contrast",
                              "ImageTint": "Tint Image"}
