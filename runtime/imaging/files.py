"""Image file names: input-folder listings, `name [output]` annotations, and SaveImage's counter scheme.

Standard library only: node declarations, IS_CHANGED and VALIDATE_INPUTS use it without loading torch.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.settings import current

_ANNOTATIONS = {" [input]": "input", " [output]": "output", " [temp]": "temp"}
_EXTRA_IMAGE_TYPES = {".webp": "image/webp", ".avif": "image/avif", ".jxl": "image/jxl"}


def is_image_name(name: str) -> bool:
    """Whether the file name's MIME type (from its extension) is image/*."""
    mime = _EXTRA_IMAGE_TYPES.get(os.path.splitext(name)[1].lower()) or mimetypes.guess_type(name)[0]
    return bool(mime) and mime.startswith("image/")


def input_files(images_only: bool) -> list[str]:
    """Sorted names of the files directly in the input directory (optionally only images)."""
    folder = current().paths.input_dir
    if not folder.is_dir():
        return []
    names = [entry.name for entry in os.scandir(folder) if entry.is_file()]
    return sorted(name for name in names if not images_only or is_image_name(name))


def annotated_path(name: str, default_kind: str = "input") -> Path:
    """Resolve `sub/x.png [output]` style names to a file path inside the input/output/temp directory.

    Raises ValueError for names that leave that directory.
    """
    kind = default_kind
    for suffix, annotated_kind in _ANNOTATIONS.items():
        if name.endswith(suffix):
            name, kind = name[:-len(suffix)], annotated_kind
            break
    root = current().paths.directory_for(kind)
    path = (root / name).resolve()
    if os.path.commonpath([root.resolve(), path]) != str(root.resolve()):
        raise ValueError(f"image name {name!r} points outside the {kind} directory")
    return path


def annotated_path_exists(name: str) -> bool:
    try:
        return annotated_path(name).is_file()
    except ValueError:
        return False


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def substitute_variables(prefix: str, width: int, height: int) -> str:
    """Replace %width%, %height%, %year%, %month%, %day%, %hour%, %minute%, %second% in a filename prefix."""
    if "%" not in prefix:
        return prefix
    now = time.localtime()
    values = {"width": str(width), "height": str(height), "year": str(now.tm_year),
              "month": f"{now.tm_mon:02}", "day": f"{now.tm_mday:02}", "hour": f"{now.tm_hour:02}",
              "minute": f"{now.tm_min:02}", "second": f"{now.tm_sec:02}"}
    for key, value in values.items():
        prefix = prefix.replace(f"%{key}%", value)
    return prefix


@dataclass
class SaveTarget:
    """Where a batch of images goes: `<folder>/<filename>_<counter:05>_.png`, counter counting up per image."""

    folder: Path
    filename: str
    subfolder: str
    counter: int

    def next_name(self, batch_number: int, extension: str = ".png") -> str:
        name = f"{self.filename.replace('%batch_num%', str(batch_number))}_{self.counter:05}_{extension}"
        self.counter += 1
        return name


def _existing_counter(file_name: str, filename: str) -> int:
    """The counter of `<filename>_<counter>_...` files (0 when the name has another shape)."""
    head, rest = file_name[:len(filename)], file_name[len(filename):]
    if os.path.normcase(head) != os.path.normcase(filename) or not rest.startswith("_"):
        return 0
    digits = rest[1:].split("_")[0]
    return int(digits) if digits.isdigit() else 0


def save_target(prefix: str, output_dir: str | os.PathLike, width: int = 0, height: int = 0) -> SaveTarget:
    """Resolve a filename_prefix (may contain sub-folders) to a folder, base name and next free counter.

    The counter is one more than the largest counter of files already named `<base>_<counter>_` in that folder.
    """
    output_dir = Path(output_dir).resolve()
    prefix = substitute_variables(prefix, width, height)
    normalized = os.path.normpath(prefix)
    subfolder, filename = os.path.dirname(normalized), os.path.basename(normalized)
    folder = (output_dir / subfolder).resolve()
    if os.path.commonpath([output_dir, folder]) != str(output_dir):
        raise ValueError(f"filename_prefix {prefix!r} would save outside the output folder {output_dir}")
    folder.mkdir(parents=True, exist_ok=True)
    counters = [_existing_counter(name, filename) for name in os.listdir(folder)]
    return SaveTarget(folder=folder, filename=filename, subfolder=subfolder, counter=max(counters, default=0) + 1)
