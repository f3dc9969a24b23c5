"""VAE nodes (spec §8.4): decode and encode (plain and tiled), and the inpainting encoders.

They call the VAE object of `runtime.vae.autoencoder` (encode(IMAGE) -> raw latent, decode(latent) -> IMAGE,
encode_tiled/decode_tiled, downscale_ratio, latent_channels); everything model-specific stays there.
"""

from __future__ import annotations

LATENT, IMAGE, MASK, VAE = ("LATENT",), ("IMAGE",), ("MASK",), ("VAE",)


def _tile_inputs(step: int) -> dict:
    return {"tile_size": ("INT", {"default": 512, "min": 64, "max": 4096, "step": step}),
            "overlap": ("INT", {"default": 64, "min": 0, "max": 4096, "step": 32}),
            "temporal_size": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 4}),
            "temporal_overlap": ("INT", {"default": 8, "min": 4, "max": 4096, "step": 4})}


def _check_latent(node: str, vae, samples) -> None:
    channels = getattr(vae, "latent_channels", None)
    if samples.dim() != 4:
        raise ValueError(f"{node}: input 'samples' must be a [B,C,h,w] latent, got shape {tuple(samples.shape)}")
    if channels is not None and samples.shape[1] != channels:
        raise ValueError(f"{node}: input 'samples' has {samples.shape[1]} channels but this VAE decodes "
                         f"{channels}-channel latents (latent and VAE come from different model families)")


def _check_pixels(node: str, name: str, pixels) -> None:
    if pixels.dim() != 4 or pixels.shape[-1] not in (1, 3, 4):
        raise ValueError(f"{node}: input '{name}' must be an IMAGE [B,H,W,C] with 3 (or 4) channels, "
                         f"got shape {tuple(pixels.shape)}")


def _to_rgb(pixels):
    return pixels[..., :3] if pixels.shape[-1] >= 3 else pixels.expand(*pixels.shape[:-1], 3)


def crop_to_multiple(pixels, ratio: int, *others):
    """Centre-crop `[B,H,W,C]` pixels (and `[B,1,H,W]` masks in `others`) to multiples of `ratio`."""
    height, width = pixels.shape[1], pixels.shape[2]
    new_h, new_w = (height // ratio) * ratio, (width // ratio) * ratio
    if (new_h, new_w) == (height, width):
        return (pixels, *others)
    if new_h == 0 or new_w == 0:
        raise ValueError(f"image of {width}x{height} pixels is smaller than one latent cell ({ratio} pixels)")
    top, left = (height % ratio) // 2, (width % ratio) // 2
    cropped = pixels[:, top:top + new_h, left:left + new_w, :]
    return (cropped, *(other[..., top:top + new_h, left:left + new_w] for other in others))


def _flatten_frames(images):
    # Video VAEs return [B,T,H,W,C]; image nodes expect one batch of frames.
    return images.reshape(-1, *images.shape[-3:]) if images.dim() == 5 else images


class VAEDecode:
    """Latent to IMAGE (the VAE maps its output from −1..1 to 0..1 and clamps)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT", {}), "vae": ("VAE", {})}}

    RETURN_TYPES = IMAGE
    FUNCTION = "decode"
    CATEGORY = "latent"

    def decode(self, vae, samples):
        _check_latent("VAEDecode", vae, samples["samples"])
        return (_flatten_frames(vae.decode(samples["samples"])),)


class VAEDecodeTiled:
    """Decode in overlapping tiles of tile_size pixels to bound memory on large images."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": LATENT, "vae": VAE, **_tile_inputs(32)}}

    RETURN_TYPES = IMAGE
    FUNCTION = "decode"
    CATEGORY = "_for_testing"

    def decode(self, vae, samples, tile_size, overlap=64, temporal_size=64, temporal_overlap=8):
        _check_latent("VAEDecodeTiled", vae, samples["samples"])
        if tile_size < overlap * 4:
            overlap = tile_size // 4
        ratio = vae.downscale_ratio
        images = vae.decode_tiled(samples["samples"], tile_x=tile_size // ratio, tile_y=tile_size // ratio,
                                  overlap=overlap // ratio)
        return (_flatten_frames(images),)


class VAEEncode:
    """IMAGE to raw latent: centre-cropped to a multiple of the VAE's downscale ratio, posterior mode."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": IMAGE, "vae": VAE}}

    RETURN_TYPES = LATENT
    FUNCTION = "encode"
    CATEGORY = "latent"

    def encode(self, vae, pixels):
        _check_pixels("VAEEncode", "pixels", pixels)
        (pixels,) = crop_to_multiple(pixels, vae.downscale_ratio)
        return ({"samples": vae.encode(_to_rgb(pixels))},)


class VAEEncodeTiled:
    """Encode in overlapping tiles of tile_size pixels."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": IMAGE, "vae": VAE, **_tile_inputs(64)}}

    RETURN_TYPES = LATENT
    FUNCTION = "encode"
    CATEGORY = "_for_testing"

    def encode(self, vae, pixels, tile_size, overlap=64, temporal_size=64, temporal_overlap=8):
        _check_pixels("VAEEncodeTiled", "pixels", pixels)
        (pixels,) = crop_to_multiple(pixels, vae.downscale_ratio)
        latent = vae.encode_tiled(_to_rgb(pixels), tile_x=tile_size, tile_y=tile_size, overlap=overlap)
        return ({"samples": latent},)


def _masked_pixels(node: str, vae, pixels, mask):
    """Pixels cropped to the latent grid with the masked area set to grey 0.5, and the resized `[B,1,H,W]` mask."""
    import torch.nn.functional as F

    _check_pixels(node, "pixels", pixels)
    mask = F.interpolate(mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1]).float(),
                         size=(pixels.shape[1], pixels.shape[2]), mode="bilinear")
    cropped, mask = crop_to_multiple(pixels, vae.downscale_ratio, mask)
    keep = (1.0 - mask.round()).squeeze(1).unsqueeze(-1)
    if keep.shape[0] not in (1, cropped.shape[0]):
        raise ValueError(f"{node}: input 'mask' has batch {keep.shape[0]} but 'pixels' has {cropped.shape[0]}")
    grey = (_to_rgb(cropped) - 0.5) * keep + 0.5
    return grey, mask


class VAEEncodeForInpaint:
    """Encode with the masked area greyed out; noise_mask is the rounded mask grown by a grow×grow box."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": IMAGE, "vae": VAE, "mask": MASK,
                             "grow_mask_by": ("INT", {"default": 6, "min": 0, "max": 64, "step": 1})}}

    RETURN_TYPES = LATENT
    FUNCTION = "encode"
    CATEGORY = "latent/inpaint"

    def encode(self, vae, pixels, mask, grow_mask_by=6):
        import math

        import torch
        import torch.nn.functional as F

        grey, mask = _masked_pixels("VAEEncodeForInpaint", vae, pixels, mask)
        noise_mask = mask.round()
        if grow_mask_by > 0:
            kernel = torch.ones((1, 1, grow_mask_by, grow_mask_by), dtype=mask.dtype)
            padding = math.ceil((grow_mask_by - 1) / 2)
            # An even kernel makes the output one pixel larger; the crop below drops the extra row/column.
            noise_mask = torch.clamp(F.conv2d(noise_mask, kernel, padding=padding), 0, 1)
        noise_mask = noise_mask[:, :, :mask.shape[2], :mask.shape[3]].round()
        return ({"samples": vae.encode(grey), "noise_mask": noise_mask},)


class InpaintModelConditioning:
    """For inpainting models: the greyed image's latent and the mask go into both conditionings
    (concat_latent_image, concat_mask); the latent is the full image's encoding."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"positive": ("CONDITIONING",), "negative": ("CONDITIONING",), "vae": VAE,
                             "pixels": IMAGE, "mask": MASK, "noise_mask": ("BOOLEAN", {"default": True})}}

    RETURN_TYPES = ("CONDITIONING", "CONDITIONING", "LATENT")
    RETURN_NAMES = ("positive", "negative", "latent")
    FUNCTION = "encode"
    CATEGORY = "conditioning/inpaint"

    def encode(self, positive, negative, pixels, vae, mask, noise_mask=True):
        grey, mask = _masked_pixels("InpaintModelConditioning", vae, pixels, mask)
        concat_latent = vae.encode(grey)
        (full,) = crop_to_multiple(pixels, vae.downscale_ratio)
        latent = {"samples": vae.encode(_to_rgb(full))}
        if noise_mask:
            latent["noise_mask"] = mask
        extra = {"concat_latent_image": concat_latent, "concat_mask": mask}
        conditionings = [[[cond, {**options, **extra}] for cond, options in entries]
                         for entries in (positive, negative)]
        return (conditionings[0], conditionings[1], latent)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    VAEDecode, VAEDecodeTiled, VAEEncode, VAEEncodeTiled, VAEEncodeForInpaint, InpaintModelConditioning)}

NODE_DISPLAY_NAME_MAPPINGS = {
    "VAEDecode": "VAE Decode",
    "VAEDecodeTiled": "VAE Decode (Tiled)",
    "VAEEncode": "VAE Encode",
    "VAEEncodeTiled": "VAE Encode (Tiled)",
    "VAEEncodeForInpaint": "VAE Encode (for Inpainting)",
    "InpaintModelConditioning": "InpaintModelConditioning",
}
