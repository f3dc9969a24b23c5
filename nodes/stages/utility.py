"""Utility nodes: ResizeImageMaskNode, ImageFromBatch, RebatchLatents, LatentAdd/Subtract/Multiply and
SaveImageWebsocket (each image sent to the client as a PNG binary frame, spec §2.4)."""

from __future__ import annotations

from nodes.constants import MAX_RESOLUTION
from runtime.imaging import CROP_METHODS, IMAGE_UPSCALE_METHODS
from nodes.inputs import check_image

LATENT = ("LATENT",)
MATCH_TYPE = "COMFY_MATCHTYPE_V3"
RESIZE_TYPES = ["scale by multiplier", "scale dimensions", "scale longer dimension", "scale shorter dimension",
                "scale width", "scale height", "scale total pixels", "match size"]


def _size(name: str) -> tuple[str, tuple]:
    return name, ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1})


def _crop() -> tuple[str, tuple]:
    return "crop", ("COMBO", {"default": "center", "multiselect": False, "options": list(CROP_METHODS)})


def _resize_options() -> list[dict]:
    """The DynamicCombo options of ResizeImageMaskNode: each resize type with the inputs it shows."""
    inputs = {
        "scale by multiplier": [("multiplier", ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01}))],
        "scale dimensions": [_size("width"), _size("height"), _crop()],
        "scale longer dimension": [_size("longer_size")],
        "scale shorter dimension": [_size("shorter_size")],
        "scale width": [_size("width")],
        "scale height": [_size("height")],
        "scale total pixels": [("megapixels", ("FLOAT", {"default": 1.0, "min": 0.01, "max": 16.0, "step": 0.01}))],
        "match size": [("match", ("IMAGE,MASK", {})), _crop()],
    }
    return [{"key": key, "inputs": {"required": dict(inputs[key])}} for key in RESIZE_TYPES]


def _target_size(kind: str, height: int, width: int, options: dict) -> tuple[int, int, str]:
    """(width, height, crop) that resize type `kind` asks for, given the input's size."""
    import math

    if kind == "scale by multiplier":
        return round(width * options["multiplier"]), round(height * options["multiplier"]), "disabled"
    if kind in ("scale dimensions", "scale width", "scale height"):
        new_w, new_h = options.get("width", 0), options.get("height", 0)
        if new_w == 0 and new_h == 0:
            return width, height, "disabled"
        if new_w == 0:
            new_w = max(1, round(width * new_h / height))
        elif new_h == 0:
            new_h = max(1, round(height * new_w / width))
        return new_w, new_h, options.get("crop", "disabled")
    if kind in ("scale longer dimension", "scale shorter dimension"):
        longer = kind == "scale longer dimension"
        size = options["longer_size" if longer else "shorter_size"]
        if width == height:
            return size, size, "disabled"
        if (width > height) == longer:
            return size, round(height / width * size), "disabled"
        return round(width / height * size), size, "disabled"
    if kind == "scale total pixels":
        scale = math.sqrt(int(options["megapixels"] * 1024 * 1024) / (width * height))
        return max(1, round(width * scale)), max(1, round(height * scale)), "disabled"
    if kind == "match size":
        match = options["match"]
        return match.shape[2 if match.dim() == 4 else -1], match.shape[1 if match.dim() == 4 else -2], options["crop"]
    raise ValueError(f"ResizeImageMaskNode: input 'resize_type': unknown resize type {kind!r}; "
                     f"expected one of {RESIZE_TYPES}")


class ResizeImageMaskNode:
    """Resize an IMAGE or a MASK by a factor, to given sides, to a side length, a pixel count or another's size."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_post_processing"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "input": (MATCH_TYPE, {"template": {"template_id": "input_type", "allowed_types": "IMAGE,MASK"}}),
            "resize_type": ("COMFY_DYNAMICCOMBO_V3", {"options": _resize_options()}),
            "scale_method": ("COMBO", {"default": "area", "multiselect": False, "options": IMAGE_UPSCALE_METHODS})}}

    RETURN_TYPES = (MATCH_TYPE,)
    RETURN_NAMES = ("resized",)
    OUTPUT_MATCHTYPES = ("input_type",)  # the output takes the type the template input received
    FUNCTION = "resize"
    CATEGORY = "transform"

    def resize(self, input, resize_type, scale_method, **chosen):
        from runtime.imaging.resample import upscale

        # the chosen option's inputs arrive as "resize_type.<name>"
        options = {key.split(".", 1)[1]: value for key, value in chosen.items() if key.startswith("resize_type.")}
        if input.dim() not in (3, 4):
            raise ValueError(f"ResizeImageMaskNode: input 'input' must be an IMAGE [B,H,W,C] or a MASK [B,H,W], "
                             f"got shape {tuple(input.shape)}")
        is_image = input.dim() == 4
        height, width = input.shape[1], input.shape[2]
        try:
            new_w, new_h, crop = _target_size(resize_type, height, width, options)
        except KeyError as missing:
            raise ValueError(f"ResizeImageMaskNode: resize type {resize_type!r} needs input "
                             f"'resize_type.{missing.args[0]}'") from None
        if (new_w, new_h) == (width, height) and crop == "disabled":
            return (input,)
        samples = input.movedim(-1, 1) if is_image else input.unsqueeze(1)
        out = upscale(samples, new_w, new_h, scale_method, crop)
        return (out.movedim(1, -1) if is_image else out.squeeze(1),)


class ImageFromBatch:
    """`length` images starting at `batch_index` (both clipped to the batch)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "batch_index": ("INT", {"default": 0, "min": 0, "max": 4095}),
                             "length": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "frombatch"
    CATEGORY = "image/batch"

    def frombatch(self, image, batch_index, length):
        check_image("ImageFromBatch", "image", image)
        start = min(image.shape[0] - 1, batch_index)
        return (image[start:start + length].clone(),)


def _latent_batches(latents: list[dict]):
    """Every latent item as (samples [1,C,h,w], mask [1,1,H,W] or None, batch index)."""
    for latent in latents:
        samples = latent["samples"]
        indices = latent.get("batch_index") or list(range(samples.shape[0]))
        mask = latent.get("noise_mask")
        for i in range(samples.shape[0]):
            item_mask = None if mask is None else mask.reshape(-1, 1, *mask.shape[-2:])[i % mask.shape[0]][None]
            yield samples[i:i + 1], item_mask, indices[i]


class RebatchLatents:
    """Regroup every incoming latent into batches of batch_size; a change of size starts a new batch."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_rebatch"
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"latents": ("LATENT", {}), "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    RETURN_TYPES = LATENT
    INPUT_IS_LIST = True
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "rebatch"
    CATEGORY = "latent/batch"

    def rebatch(self, latents, batch_size):
        size = batch_size[0]
        any_mask = any(latent.get("noise_mask") is not None for latent in latents)
        batches, current = [], []
        for item in _latent_batches(latents):
            if current and (len(current) == size or current[0][0].shape != item[0].shape):
                batches.append(_join(current, any_mask))
                current = []
            current.append(item)
        if current:
            batches.append(_join(current, any_mask))
        return (batches,)


def _join(items: list, with_mask: bool) -> dict:
    import torch

    out = {"samples": torch.cat([samples for samples, _, _ in items]), "batch_index": [i for _, _, i in items]}
    if with_mask:
        height, width = out["samples"].shape[-2] * 8, out["samples"].shape[-1] * 8
        masks = [torch.ones(1, 1, height, width) if mask is None else
                 torch.nn.functional.interpolate(mask.float(), size=(height, width), mode="bilinear")
                 for _, mask, _ in items]
        out["noise_mask"] = torch.cat(masks)
    return out


def _fit_latent(reference, other):
    """`other` resized (bilinear, centre crop) and repeated to `reference`'s shape."""
    from runtime.imaging.resample import repeat_to_batch, upscale

    if other.shape[-2:] != reference.shape[-2:]:
        other = upscale(other, reference.shape[-1], reference.shape[-2], "bilinear", "center")
    return repeat_to_batch(other, reference.shape[0])


class _LatentArithmetic:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples1": ("LATENT", {}), "samples2": ("LATENT", {})}}

    RETURN_TYPES = LATENT
    FUNCTION = "op"
    CATEGORY = "latent/advanced"

    def op(self, samples1, samples2):
        first = samples1["samples"]
        return ({**samples1, "samples": self.combine(first, _fit_latent(first, samples2["samples"]))},)


class LatentAdd(_LatentArithmetic):
    """samples1 + samples2 (samples2 resized to samples1)."""

    @staticmethod
    def combine(a, b):
        return a + b


class LatentSubtract(_LatentArithmetic):
    """samples1 − samples2 (samples2 resized to samples1)."""

    @staticmethod
    def combine(a, b):
        return a - b


class LatentMultiply:
    """samples × multiplier."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT", {}),
                             "multiplier": ("FLOAT", {"default": 1.0, "min": -10.0, "max": 10.0, "step": 0.01})}}

    RETURN_TYPES = LATENT
    FUNCTION = "op"
    CATEGORY = "latent/advanced"

    def op(self, samples, multiplier):
        return ({**samples, "samples": samples["samples"] * multiplier},)


class SaveImageWebsocket:
    """Send each image to the client as a full-size PNG binary frame instead of saving a file."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)}}

    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    CATEGORY = "api/image"
    RELATIVE_PYTHON_MODULE = "custom_nodes.websocket_image_save"

    def save_images(self, images):
        from executor import progress
        from runtime.imaging.pictures import to_pil

        check_image("SaveImageWebsocket", "images", images)
        total = images.shape[0]
        for step, image in enumerate(images):
            # max_size None: the server sends the picture as it is, not resized like a sampler preview
            progress.report(step, total, ("PNG", to_pil(image), None))
        return {"result": ()}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    ResizeImageMaskNode, ImageFromBatch, RebatchLatents, LatentAdd, LatentSubtract, LatentMultiply,
    SaveImageWebsocket)}
NODE_DISPLAY_NAME_MAPPINGS = {"ResizeImageMaskNode": "Resize Image/Mask", "RebatchLatents": "Rebatch Latents"}
