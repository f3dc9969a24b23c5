"""Workflow metadata in PNG text chunks (spec §4): the `prompt` and `workflow` keys ComfyUI writes and reads.

Writing goes through Pillow; reading walks the chunks with the standard library only, so the server can read an
uploaded file without decoding its pixels.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

from runtime.settings import current

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_enabled() -> bool:
    """Whether saved files carry metadata (`runtime.configure(metadata=…)`; `--disable-metadata` turns it off)."""
    return current().metadata


def metadata_chunks(prompt: Any = None, extra_pnginfo: dict | None = None) -> dict[str, str]:
    """The text chunks for one saved image: `prompt`, then one per extra_pnginfo key, values as ASCII JSON.

    Empty when metadata writing is switched off.
    """
    chunks: dict[str, str] = {}
    if not is_enabled():
        return chunks
    if prompt is not None:
        chunks["prompt"] = json.dumps(prompt)
    for key, value in (extra_pnginfo or {}).items():
        chunks[key] = json.dumps(value)
    return chunks


def save_png(path: str | Path, picture, chunks: dict[str, str] | None = None, compress_level: int = 4) -> None:
    """Write a PIL image as PNG with `chunks` as tEXt chunks (ASCII JSON keeps Pillow from using iTXt)."""
    from PIL.PngImagePlugin import PngInfo

    info = None
    if chunks:
        info = PngInfo()
        for key, text in chunks.items():
            info.add_text(key, text)
    picture.save(path, format="PNG", pnginfo=info, compress_level=compress_level)


def _decode_text_chunk(kind: bytes, data: bytes) -> tuple[str, str] | None:
    if kind == b"tEXt":
        key, _, text = data.partition(b"\0")
        return key.decode("latin-1"), text.decode("latin-1")
    if kind == b"zTXt":
        key, _, rest = data.partition(b"\0")
        return key.decode("latin-1"), zlib.decompress(rest[1:]).decode("latin-1")
    if kind == b"iTXt":
        key, _, rest = data.partition(b"\0")
        compressed, _method, rest = rest[0], rest[1], rest[2:]
        _language, _, rest = rest.partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return key.decode("latin-1"), (zlib.decompress(text) if compressed else text).decode("utf-8")
    return None


def read_text_chunks(source: str | Path | bytes) -> dict[str, str]:
    """Every tEXt, zTXt and iTXt chunk of a PNG file (path or bytes) as {keyword: text}; later keys win."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        name = "data" if isinstance(source, bytes) else str(source)
        raise ValueError(f"{name} is not a PNG file (missing PNG signature)")
    chunks: dict[str, str] = {}
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length  # length, type, body, CRC
        if kind == b"IEND":
            break
        decoded = _decode_text_chunk(kind, body)
        if decoded is not None:
            chunks[decoded[0]] = decoded[1]
    return chunks


def read_workflow(source: str | Path | bytes) -> dict[str, Any]:
    """The JSON-decoded `workflow` and `prompt` entries of a PNG (those present and valid JSON)."""
    found: dict[str, Any] = {}
    for key, text in read_text_chunks(source).items():
        if key in ("workflow", "prompt"):
            try:
                found[key] = json.loads(text)
            except json.JSONDecodeError:
                continue
    return found
