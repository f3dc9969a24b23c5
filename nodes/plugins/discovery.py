"""Finding custom node packs: packages and single .py files in every `custom_nodes` root (spec §5.2)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackSource:
    """One pack on disk and the module name it is imported under."""

    name: str  # directory name or file stem: the key for reports, routes and /extensions/<name>/
    path: Path  # the package directory or the .py file
    disabled: bool = False

    @property
    def is_package(self) -> bool:
        return self.path.is_dir()

    @property
    def module_name(self) -> str:
        # ComfyUI's naming: the full path (minus .py) with "." spelled "_x_", so the name is unique per location
        # and relative imports inside a package resolve against it.
        base = self.path if self.is_package else self.path.with_suffix("")
        return str(base).replace(".", "_x_")

    @property
    def directory(self) -> Path:
        """The directory a WEB_DIRECTORY is relative to."""
        return self.path if self.is_package else self.path.parent


def discover(roots: list[Path]) -> list[PackSource]:
    """Every pack in the roots, in directory order per root; `.disabled` ones are listed with `disabled=True`."""
    found: list[PackSource] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for entry in os.listdir(root):
            path = root / entry
            if entry == "__pycache__" or entry.startswith("."):
                continue
            if path.is_file() and not (entry.endswith(".py") or entry.endswith(".py.disabled")):
                continue
            disabled = entry.endswith(".disabled")
            stem = entry.removesuffix(".disabled")
            name = stem.removesuffix(".py") if path.is_file() else stem
            found.append(PackSource(name=name, path=path, disabled=disabled))
    return found
