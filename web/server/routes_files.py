"""`/view`, `/upload/image`, `/upload/mask`, `/view_metadata` (spec §1.7–§1.9): files confined to their folders."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import struct
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from web.server.errors import BadRequest
from web.server.files import SAFE_FILE_HEADERS, confined, content_disposition, file_response
from web.server.state import state_of

routes = web.RouteTableDef()
internal_routes = web.RouteTableDef()

DIRECTORY_TYPES = ("input", "output", "temp")
_ANNOTATIONS = {" [output]": "output", " [input]": "input", " [temp]": "temp"}


def split_annotation(filename: str, default_type: str) -> tuple[str, str]:
    """`"a.png [input]"` → `("a.png", "input")`; without a suffix the given type stays."""
    for suffix, kind in _ANNOTATIONS.items():
        if filename.endswith(suffix):
            return filename[: -len(suffix)], kind
    return filename, default_type


def _type_dir(request: web.Request, kind: str) -> Path:
    if kind not in DIRECTORY_TYPES:
        raise BadRequest("Invalid type", f"type must be one of {', '.join(DIRECTORY_TYPES)}, got {kind!r}")
    return state_of(request).paths.directory_for(kind)


def _plain_name(filename: str) -> None:
    """Refuse names that could address another directory: ComfyUI rejects empty, absolute and any `..`."""
    if not filename or filename.startswith(("/", "\\")) or ".." in filename or any(ord(c) < 32 for c in filename):
        raise BadRequest("Invalid filename", f"{filename!r} must be a plain file name (no '..', no absolute path)")


def resolve_named_file(request: web.Request, filename: str, kind: str, subfolder: str) -> Path:
    """The file a `/view`-style reference names, confined to its type directory (symlinks included)."""
    filename, kind = split_annotation(filename, kind)
    root = _type_dir(request, kind)
    _plain_name(filename)
    return confined(confined(root, subfolder), os.path.basename(filename))


@routes.get("/view")
async def view(request: web.Request) -> web.StreamResponse:
    q = request.query
    if "filename" not in q:
        raise web.HTTPNotFound(text="filename is required")
    path = resolve_named_file(request, q["filename"], q.get("type", "output"), q.get("subfolder", ""))
    if not path.is_file():
        raise web.HTTPNotFound(text=f"file not found: {os.path.basename(path)}")
    channel, preview = q.get("channel", "rgba"), q.get("preview")
    if preview is None and channel == "rgba":
        return file_response(path)
    data, mime = await asyncio.to_thread(_transcode, path, preview, channel)
    return web.Response(body=data, content_type=mime,
                        headers={**SAFE_FILE_HEADERS, "Content-Disposition": content_disposition(path.name)})


def _transcode(path: Path, preview: str | None, channel: str) -> tuple[bytes, str]:
    """A preview (webp/jpeg at a quality) or one channel view of an image, as ComfyUI's /view does."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise BadRequest("Not an image", f"{path.name}: {exc}")
    buffer = io.BytesIO()
    if preview is not None:
        tokens = preview.split(";")
        fmt = tokens[0] if tokens[0] in ("webp", "jpeg") else "webp"
        fmt = "webp" if "a" in channel else fmt
        quality = int(tokens[-1]) if tokens[-1].isdigit() else 90
        if fmt == "jpeg" or channel == "rgb":
            image = image.convert("RGB")
        image.save(buffer, format=fmt.upper(), quality=quality)
        return buffer.getvalue(), f"image/{fmt}"
    if channel == "rgb":
        image.convert("RGB").save(buffer, format="PNG")
    else:  # channel "a": black RGB carrying the file's alpha
        alpha = image.getchannel("A") if "A" in image.getbands() else Image.new("L", image.size, 255)
        out = Image.new("RGBA", image.size, (0, 0, 0, 0))
        out.putalpha(alpha)
        out.save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"


async def _form(request: web.Request) -> dict:
    try:
        return dict(await request.post())
    except web.HTTPRequestEntityTooLarge:
        limit = state_of(request).config.max_upload_size_mb
        raise BadRequest("Upload too large", f"uploads are limited to {limit:g} MB (--max-upload-size)",
                         status=413, error_type="upload_too_large")
    except (ValueError, LookupError, HttpProcessingError) as exc:  # bad encodings, headers, boundaries
        raise BadRequest("Malformed upload", f"expected multipart/form-data: {exc}")


def _upload_target(request: web.Request, form: dict) -> tuple[web.FileField, Path, str, str]:
    image = form.get("image")
    if not isinstance(image, web.FileField) or not image.filename:
        raise BadRequest("No image uploaded", "the multipart field 'image' must be a file with a filename")
    kind = str(form.get("type", "input"))
    subfolder = str(form.get("subfolder", ""))
    root = _type_dir(request, kind)
    _plain_name(image.filename)
    if "/" in image.filename or "\\" in image.filename:
        raise BadRequest("Invalid filename", f"{image.filename!r} must not contain path separators")
    folder = confined(root, subfolder)
    return image, folder, kind, subfolder


def _write_upload(folder: Path, filename: str, data: bytes, overwrite: bool, hash_name: str) -> str:
    """Write unless an identical file exists; a different file with the name gets ` (1)`, ` (2)`, … appended."""
    folder.mkdir(parents=True, exist_ok=True)
    target = confined(folder, filename)
    if not overwrite:
        stem, ext = os.path.splitext(filename)
        digest = hashlib.new(hash_name, data).digest()
        counter = 1
        while target.exists():
            if target.is_file() and hashlib.new(hash_name, target.read_bytes()).digest() == digest:
                return target.name
            target = confined(folder, f"{stem} ({counter}){ext}")
            counter += 1
    target.write_bytes(data)
    return target.name


def _overwrite(form: dict) -> bool:
    return str(form.get("overwrite", "")).lower() in ("true", "1")


@routes.post("/upload/image")
async def upload_image(request: web.Request) -> web.Response:
    form = await _form(request)
    image, folder, kind, subfolder = _upload_target(request, form)
    name = await asyncio.to_thread(_write_upload, folder, image.filename, image.file.read(), _overwrite(form),
                                   state_of(request).config.default_hashing_function)
    return web.json_response({"name": name, "subfolder": subfolder, "type": kind})


@routes.post("/upload/mask")
async def upload_mask(request: web.Request) -> web.Response:
    form = await _form(request)
    image, folder, kind, subfolder = _upload_target(request, form)
    try:
        ref = json.loads(str(form.get("original_ref", "")))
    except ValueError:
        ref = None
    if not isinstance(ref, dict) or not isinstance(ref.get("filename"), str):
        raise BadRequest("Invalid original_ref", "original_ref must be a JSON object with a 'filename'")
    original = resolve_named_file(request, ref["filename"], str(ref.get("type", "output")),
                                  str(ref.get("subfolder", "")))
    if not original.is_file():
        raise web.HTTPNotFound(text=f"original image not found: {ref['filename']}")
    data = await asyncio.to_thread(_merge_mask, original, image.file.read())
    name = await asyncio.to_thread(_write_upload, folder, image.filename, data, _overwrite(form),
                                   state_of(request).config.default_hashing_function)
    return web.json_response({"name": name, "subfolder": subfolder, "type": kind})


def _merge_mask(original: Path, mask_bytes: bytes) -> bytes:
    """The original image (its PNG text kept) with the uploaded image's alpha as its alpha, as PNG."""
    from PIL import Image, PngImagePlugin, UnidentifiedImageError

    try:
        base = Image.open(original)
        mask = Image.open(io.BytesIO(mask_bytes)).convert("RGBA")
    except (UnidentifiedImageError, OSError) as exc:
        raise BadRequest("Not an image", str(exc))
    info = PngImagePlugin.PngInfo()
    for key, value in getattr(base, "text", {}).items():
        info.add_text(key, value)
    merged = base.convert("RGBA")
    merged.putalpha(mask.getchannel("A").resize(merged.size))
    buffer = io.BytesIO()
    merged.save(buffer, format="PNG", pnginfo=info, compress_level=4)
    return buffer.getvalue()


@routes.get("/view_metadata/{folder_name}")
async def view_metadata(request: web.Request) -> web.Response:
    filename = request.query.get("filename", "")
    folder = request.match_info["folder_name"]
    paths = state_of(request).paths
    if not filename.endswith(".safetensors") or folder not in paths.folders:
        raise web.HTTPNotFound()
    path = paths.get_full_path(folder, filename)
    metadata = await asyncio.to_thread(_safetensors_metadata, path) if path is not None else None
    if metadata is None:
        raise web.HTTPNotFound()
    return web.json_response(metadata)


def _safetensors_metadata(path: Path) -> dict | None:
    """The `__metadata__` object of a safetensors header (header read limited to 1 MiB)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8).ljust(8, b"\0"))
        if length > 1024 * 1024:
            return None
        try:
            header = json.loads(f.read(length))
        except ValueError:
            return None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else None


@internal_routes.get("/internal/files/{directory_type}")
async def list_directory(request: web.Request) -> web.Response:
    kind = request.match_info["directory_type"]
    if kind not in DIRECTORY_TYPES:
        return web.json_response({"error": "Invalid directory type"}, status=400)
    root = state_of(request).paths.directory_for(kind)
    entries = [e for e in os.scandir(root) if e.is_file() and not e.name.startswith(".")] if root.is_dir() else []
    entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
    return web.json_response([e.name for e in entries])
