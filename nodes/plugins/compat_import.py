"""Makes the ComfyUI compatibility modules (`folder_paths`, `comfy`, `comfy_execution`, `server`, `comfy_api`)
importable.

They live in `nodes/plugins/comfy_compat/`. Rather than putting that directory on `sys.path` (which would let any
other top-level name there shadow real packages), a meta-path finder serves exactly these top-level names. It is
installed when plugins load and stays installed, because plugin code often imports them lazily inside functions.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from pathlib import Path

COMPAT_DIR = Path(__file__).with_name("comfy_compat")
TOP_LEVEL = frozenset({"folder_paths", "comfy", "comfy_execution", "server", "comfy_api"})
# ComfyUI modules diffloom does not provide: unless something installed answers to the name, importing one gets an
# error that says so instead of a bare "No module named".
NOT_PROVIDED = frozenset({"execution", "latent_preview", "node_helpers", "comfy_extras", "comfy_api_nodes",
                          "comfyui_version"})
DOCS = "docs/plugins.md"


class CompatFinder:
    """Finds the compatibility modules, and refuses unsupported ComfyUI modules with a clear ImportError."""

    def find_spec(self, fullname: str, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in NOT_PROVIDED and "." not in fullname:
            spec = importlib.machinery.PathFinder.find_spec(fullname, sys.path)
            if spec is None:
                raise _not_provided(fullname)
            return spec
        if top not in TOP_LEVEL:
            return None
        search = [str(COMPAT_DIR)] if "." not in fullname else path
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None:
            raise _not_provided(fullname)
        return spec

    def invalidate_caches(self) -> None:
        pass


def _not_provided(fullname: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(f"No module named '{fullname}': diffloom's ComfyUI compatibility layer does not provide "
                               f"it (supported modules and symbols are listed in {DOCS})", name=fullname)


_finder = CompatFinder()


def install() -> None:
    """Serve the compatibility modules from now on (idempotent). Placed first so they win over other packages."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def installed() -> bool:
    return _finder in sys.meta_path


def lazy_exports(module: str, exports: dict[str, str], supported: list[str] | tuple[str, ...]):
    """A module `__getattr__` that serves `exports` (name → "package.module:attribute"): diffloom's own objects,
    imported on first use so that importing the compatibility module does not import torch; other names are
    refused with `missing_symbol`."""
    def __getattr__(name: str):
        if name in exports:
            target, _, attribute = exports[name].partition(":")
            return getattr(importlib.import_module(target), attribute)
        raise missing_symbol(module, name, supported)
    return __getattr__


def missing_symbol(module: str, name: str, supported: list[str] | tuple[str, ...]) -> AttributeError:
    """The error a compatibility module's `__getattr__` raises for a ComfyUI symbol diffloom does not provide.

    `from module import name` turns it into an ImportError naming the symbol.
    """
    return AttributeError(f"{module}.{name} is not supported by diffloom's ComfyUI compatibility layer "
                          f"(supported: {', '.join(sorted(supported))}; see {DOCS})")
