"""Confining client-named paths to a directory, and serving files with content types that never render inline."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from web.server.errors import BadRequest

# Only these render in a browser when opened; everything else is served as an opaque download.
_INLINE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff", "image/avif",
    "video/mp4", "video/webm", "audio/mpeg", "audio/wav", "audio/x-wav", "audio/flac", "audio/ogg",
    "application/json", "text/plain", "model/gltf-binary", "model/gltf+json",
})
# Served files can never run script or load anything, even if a type slips through.
SAFE_FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}


def confined(root: Path, *parts: str) -> Path:
    """`root/parts…` resolved (symlinks followed) and checked to stay inside `root`, else 403/400."""
    for part in parts:
        if "\x00" in part:
            raise BadRequest("Invalid path", "paths may not contain NUL characters")
        if os.path.isabs(part) or part.startswith(("/", "\\")):
            raise BadRequest("Invalid path", f"absolute paths are not allowed: {part!r}")
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, target]) != real_root:
        raise BadRequest("Path outside its directory", "the path leaves the directory it must stay in", status=403,
                         error_type="forbidden_path")
    return Path(target)


def safe_content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed if guessed in _INLINE_TYPES else "application/octet-stream"


def content_disposition(name: str, attachment: bool = False) -> str:
    """`filename="…"` that is always a valid header (no quotes, controls or non-ASCII), plus RFC 5987 if needed."""
    plain = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    value = f'{"attachment" if attachment else "inline"}; filename="{plain}"'
    return value if plain == name else value + f"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(path: Path) -> web.FileResponse:
    """A file with a safe content type, `nosniff` and a sandboxing CSP; non-inline types download."""
    content_type = safe_content_type(path.name)
    headers = {**SAFE_FILE_HEADERS, "Content-Type": content_type,
               "Content-Disposition": content_disposition(path.name, content_type == "application/octet-stream")}
    return web.FileResponse(path, headers=headers)
