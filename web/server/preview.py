"""Encoding sampler previews (`(format, PIL image, max_size)`) into the hub's binary preview frames (spec §2.4)."""

from __future__ import annotations

import io

from web.server.hub import Preview


def encode_preview(image_format: str, image, max_size: int | None, preview_size: int, metadata: dict) -> Preview:
    """Shrink the image into preview_size² (never enlarged) unless max_size is None, then JPEG q95 or PNG."""
    from PIL import Image, ImageOps

    if max_size is not None:
        if max(image.size) > preview_size:
            image = ImageOps.contain(image, (preview_size, preview_size), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    if str(image_format).upper() == "PNG":
        image.save(buffer, format="PNG", compress_level=1)
        mime = "image/png"
    else:
        image.convert("RGB").save(buffer, format="JPEG", quality=95)
        mime = "image/jpeg"
    return Preview(buffer.getvalue(), mime, metadata)
