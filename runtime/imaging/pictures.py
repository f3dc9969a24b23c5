"""Converting between image files / PIL pictures and the IMAGE `[B,H,W,C]` and MASK `[B,H,W]` tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

# Formats whose extra frames are not an animation (MPO: stereo pairs); only the first frame is loaded.
_SINGLE_FRAME_FORMATS = {"MPO"}
MASK_CHANNELS = ["alpha", "red", "green", "blue"]


def to_pil(image: torch.Tensor) -> Image.Image:
    """One `[H,W,C]` image (or `[H,W]` mask) as 8-bit PIL, truncating like ComfyUI: uint8(clip(255·x))."""
    pixels = np.clip(255.0 * image.detach().float().cpu().numpy(), 0, 255).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    return Image.fromarray(pixels)


def _open(path: Path, node: str) -> Image.Image:
    try:
        picture = Image.open(path)
        picture.load()
        return picture
    except FileNotFoundError:
        raise FileNotFoundError(f"{node}: input 'image': file {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{node}: input 'image': {path} is not an image file Pillow can read ({error})") from None


def _scale_16bit(frame: Image.Image) -> Image.Image:
    # 32-bit integer mode holds 16-bit PNG samples; ComfyUI divides by 255 (then convert() saturates).
    return frame.point(lambda value: value * (1 / 255)) if frame.mode == "I" else frame


def _frame_mask(frame: Image.Image) -> torch.Tensor:
    if "A" in frame.getbands():
        alpha = frame.getchannel("A")
    elif frame.mode == "P" and "transparency" in frame.info:
        alpha = frame.convert("RGBA").getchannel("A")
    else:
        # No transparency: ComfyUI returns a 64×64 zero mask whatever the image size (spec §12).
        return torch.zeros((64, 64), dtype=torch.float32)
    return 1.0 - torch.from_numpy(np.asarray(alpha, dtype=np.float32) / 255.0)


def load_image(path: str | Path, node: str = "LoadImage") -> tuple[torch.Tensor, torch.Tensor]:
    """All frames of the same size as the first (EXIF-rotated, RGB) as IMAGE, and 1 − alpha as MASK."""
    picture = _open(Path(path), node)
    images, masks = [], []
    size = None
    for raw_frame in ImageSequence.Iterator(picture):
        frame = _scale_16bit(ImageOps.exif_transpose(raw_frame))
        rgb = frame.convert("RGB")
        size = size or rgb.size
        if rgb.size != size:
            continue
        images.append(torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0))
        masks.append(_frame_mask(frame))
        if picture.format in _SINGLE_FRAME_FORMATS:
            break
    if len({tuple(mask.shape) for mask in masks}) > 1:
        # Some frames have alpha and some not: give the opaque ones an all-zero mask of the picture size.
        masks = [mask if mask.shape != (64, 64) else torch.zeros(images[0].shape[:2]) for mask in masks]
    return torch.stack(images), torch.stack(masks)


def load_mask(path: str | Path, channel: str, node: str = "LoadImageMask") -> torch.Tensor:
    """One channel of the first frame as MASK `[1,H,W]`; alpha is inverted (1 = transparent)."""
    if channel not in MASK_CHANNELS:
        raise ValueError(f"{node}: input 'channel' must be one of {MASK_CHANNELS}, got {channel!r}")
    picture = ImageOps.exif_transpose(_open(Path(path), node))
    if picture.getbands() != ("R", "G", "B", "A"):
        picture = _scale_16bit(picture).convert("RGBA")
    band = channel[0].upper()
    values = torch.from_numpy(np.asarray(picture.getchannel(band), dtype=np.float32) / 255.0)
    return (1.0 - values if band == "A" else values).unsqueeze(0)
