"""What loading one custom node pack did: status, import time, error and traceback, nodes added."""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOADED, FAILED, SKIPPED, DISABLED = "loaded", "failed", "skipped", "disabled"


@dataclass
class PackReport:
    name: str
    path: Path
    status: str = DISABLED
    seconds: float = 0.0
    error: str | None = None
    # "file:line" of the deepest traceback frame inside the pack, so the message names the file at fault
    error_location: str | None = None
    traceback: str | None = None
    nodes: list[str] = field(default_factory=list)
    # what was refused or looked wrong without failing the pack: name clashes, bad entries, a missing web folder
    warnings: list[str] = field(default_factory=list)
    web_directory: Path | None = None
    routes: list[str] = field(default_factory=list)

    def fail(self, exc: BaseException) -> None:
        """Record an exception raised while importing or registering the pack."""
        self.status = FAILED
        self.error = f"{type(exc).__name__}: {exc}"
        self.traceback = "".join(traceback.format_exception(type(exc), exc, _skip_loader_frames(exc.__traceback__)))
        self.error_location = _location_in(self.path, exc)

    def to_json(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path)
        data["web_directory"] = str(self.web_directory) if self.web_directory else None
        data["seconds"] = round(self.seconds, 4)
        return data


def _skip_loader_frames(tb):
    """The traceback from the first frame outside the loader and importlib, so it starts in the pack."""
    loader_dir = str(Path(__file__).parent)
    first = tb
    while first is not None:
        filename = first.tb_frame.f_code.co_filename
        if not (filename.startswith(loader_dir) or filename.startswith("<frozen")):
            return first
        first = first.tb_next
    return None  # nothing ran inside the pack (a syntax error): the exception alone says where


def _location_in(pack_path: Path, exc: BaseException) -> str | None:
    root = pack_path if pack_path.is_dir() else pack_path.parent
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    inside = [f for f in frames if Path(f.filename).is_relative_to(root) and
              (pack_path.is_dir() or Path(f.filename) == pack_path)]
    frame = inside[-1] if inside else (frames[-1] if frames else None)
    return f"{frame.filename}:{frame.lineno}" if frame else None


def format_times(title: str, entries: list[tuple[float, bool, Path]], failure: str) -> str:
    """ComfyUI's start-up timing table: a title, then `<seconds> seconds[ (<failure>)]: <path>`, fastest first."""
    lines = [title]
    for seconds, failed, path in sorted(entries, key=lambda entry: entry[0]):
        lines.append(f"{seconds:6.1f} seconds{f' ({failure})' if failed else ''}: {path}")
    return "\n".join(lines)


def format_import_times(reports: list[PackReport]) -> str:
    """The "Import times for custom nodes:" table of every pack that was imported (spec §5.2)."""
    entries = [(r.seconds, r.status == FAILED, r.path) for r in reports if r.status in (LOADED, FAILED, SKIPPED)]
    return format_times("Import times for custom nodes:", entries, "IMPORT FAILED")
