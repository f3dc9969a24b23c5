"""Loading custom node packs into a NodeRegistry: import, register, report; reload one pack on request.

A pack that fails to import, or declares names that cannot be registered, is reported and never stops the others.
Custom packs cannot replace built-in nodes; a later pack replaces an earlier pack's node of the same name (spec §5.2).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import tomllib
from pathlib import Path
from types import ModuleType

from executor.node_info import node_info
from nodes.plugins import compat_import
from nodes.plugins.discovery import PackSource, discover
from nodes.plugins.report import DISABLED, FAILED, LOADED, SKIPPED, PackReport, format_import_times
from nodes.plugins.server_bridge import PluginServer
from nodes.plugins.v3_packs import v3_mappings

log = logging.getLogger("diffloom.plugins")


class PackNotFound(KeyError):
    """No custom node pack of that name in any custom_nodes root."""


class PluginManager:
    """The custom node packs of one registry, with one report per pack."""

    def __init__(self, registry, roots: list[Path], *, whitelist: tuple[str, ...] = ()):
        self.registry = registry
        self.roots = [Path(r) for r in roots]
        self.whitelist = frozenset(whitelist)
        self.reports: dict[str, PackReport] = {}
        self._sources: dict[str, PackSource] = {}
        self._owners: dict[str, str] = {}  # node name -> pack that registered it
        self._lock = threading.RLock()

    @property
    def routes(self):
        return PluginServer.instance.routes

    def load_all(self, *, disable_all: bool = False) -> list[PackReport]:
        """Import every pack of the roots (only whitelisted ones when `disable_all`) and log the import times."""
        with self._lock:
            for source in discover(self.roots):
                if source.disabled or (disable_all and source.name not in self.whitelist):
                    # an enabled pack of the same name (`foo` next to `foo.disabled`) takes the report over
                    self.reports.setdefault(source.name, PackReport(source.name, source.path, status=DISABLED))
                elif source.name in self._sources:
                    self._report_duplicate(source)
                else:
                    self._load(source)
            imported = [r for r in self.reports.values() if r.status != DISABLED]
            if imported:
                log.info("%s", format_import_times(imported))
            return list(self.reports.values())

    def reload(self, name: str) -> PackReport:
        """Forget pack `name` (nodes, display names, web folder, routes, modules) and import it again from disk.

        A pack that is new on disk since start-up is loaded for the first time.
        """
        with self._lock:
            source = self._sources.get(name) or self._find_new(name)
            self._unload(source)
            if not source.path.exists():
                report = PackReport(name, source.path, status=FAILED,
                                    error=f"pack {name!r} is no longer at {source.path}")
                self.reports[name] = report
                self._sources.pop(name, None)
                return report
            return self._load(source)

    def _find_new(self, name: str) -> PackSource:
        for source in discover(self.roots):
            if source.name == name and not source.disabled:
                return source
        raise PackNotFound(f"no custom node pack named {name!r} in {', '.join(map(str, self.roots)) or 'no roots'}")

    def _report_duplicate(self, source: PackSource) -> None:
        first = self.reports[source.name].path
        self.reports[str(source.path)] = PackReport(
            source.name, source.path, status=SKIPPED,
            error=f"a pack named {source.name!r} was already found at {first}; pack names must be unique")

    def _load(self, source: PackSource) -> PackReport:
        report = PackReport(source.name, source.path)
        self.reports[source.name] = report
        self._sources[source.name] = source
        if source.is_package and not (source.path / "__init__.py").is_file():
            report.status, report.error = SKIPPED, f"{source.path} has no __init__.py, so it is not a Python package"
            return report
        compat_import.install()
        start = time.perf_counter()
        try:
            with self.routes.attributed_to(source.name):
                module = _import(source)
            self._register(source, module, report)
        except BaseException as exc:  # noqa: BLE001 - a pack must not stop the server, even with SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            report.fail(exc)
            if isinstance(exc, ModuleNotFoundError):
                report.error += _dependency_hint(source)
            self._forget(source, report)
            log.error("Cannot import %s module for custom nodes: %s\n%s", source.path, report.error, report.traceback)
        report.seconds = time.perf_counter() - start
        report.routes = [f"{r.method} {r.path}" for r in self.routes.of_pack(source.name)]
        return report

    def _register(self, source: PackSource, module: ModuleType, report: PackReport) -> None:
        web = self._web_directory(source, module, report)
        mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
        display = getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None) or {}
        if mappings is None and hasattr(module, "comfy_entrypoint"):
            mappings, display = v3_mappings(module.comfy_entrypoint)
        if mappings is None:
            report.status = LOADED if web else SKIPPED
            if not web:
                report.error = "the module defines no NODE_CLASS_MAPPINGS (and no WEB_DIRECTORY)"
            return
        if not isinstance(mappings, dict):
            raise TypeError(f"NODE_CLASS_MAPPINGS in {source.path} must be a dict of node name -> class, "
                            f"got {type(mappings).__name__}")
        if not isinstance(display, dict):
            report.warnings.append(f"NODE_DISPLAY_NAME_MAPPINGS is a {type(display).__name__}, not a dict; ignored")
            display = {}
        for name, cls in mappings.items():
            refusal = self._refusal(name, cls)
            if refusal:
                report.warnings.append(refusal)
                log.warning("custom node pack %s: %s", source.name, refusal)
                continue
            self._claim(name, source.name, report)
            cls.RELATIVE_PYTHON_MODULE = f"custom_nodes.{source.name}"
            self.registry.classes[name] = cls
            if name in display:
                self.registry.display_names[name] = str(display[name])
            report.nodes.append(name)
        report.status = LOADED

    def _refusal(self, name, cls) -> str | None:
        """Why a NODE_CLASS_MAPPINGS entry cannot be registered, or None."""
        if not isinstance(name, str) or not name:
            return f"node name {name!r} is not a non-empty string"
        if name in self.registry.builtin_names:
            return f"{name}: a built-in node has this name; custom packs cannot replace core nodes"
        if not isinstance(cls, type):
            return f"{name}: maps to {cls!r}, not a class"
        function = getattr(cls, "FUNCTION", None)
        if not callable(getattr(cls, "INPUT_TYPES", None)) or not isinstance(function, str):
            return f"{name}: a node class needs an INPUT_TYPES classmethod and a FUNCTION name"
        if not callable(getattr(cls, function, None)):
            return f"{name}: FUNCTION names {function!r}, which the class does not define"
        try:  # a declaration that cannot be shown would break /object_info for everyone: refuse it now
            json.dumps(node_info(name, cls, None))
        except Exception as exc:  # noqa: BLE001 - any failure of plugin code is reported, not raised
            return f"{name}: its /object_info entry cannot be built ({type(exc).__name__}: {exc})"
        return None

    def _claim(self, name: str, pack: str, report: PackReport) -> None:
        previous = self._owners.get(name)
        if previous is not None and previous != pack and previous in self.reports:
            report.warnings.append(f"{name}: replaces the node of the same name from pack {previous!r}")
            earlier = self.reports[previous]
            earlier.nodes.remove(name)
            earlier.warnings.append(f"{name}: replaced by the node of the same name from pack {pack!r}")
        self._owners[name] = pack

    def _web_directory(self, source: PackSource, module: ModuleType, report: PackReport) -> Path | None:
        """The pack's WEB_DIRECTORY (or `[tool.comfy] web` of its pyproject.toml), registered for /extensions."""
        declared, served_as = getattr(module, "WEB_DIRECTORY", None), source.name
        if declared is None:
            declared, served_as = _pyproject_web(source, report)
        if declared is None:
            return None
        path = (source.directory / str(declared)).resolve()
        if not path.is_relative_to(source.directory.resolve()):
            report.warnings.append(f"web directory {declared!r} points outside the pack; not served")
            return None
        if not path.is_dir():
            report.warnings.append(f"web directory {declared!r} is not a directory ({path}); not served")
            return None
        self.registry.web_directories[served_as] = path
        report.web_directory = path
        return path

    def _unload(self, source: PackSource) -> None:
        previous = self.reports.get(source.name)
        if previous is not None:
            self._forget(source, previous)

    def _forget(self, source: PackSource, report: PackReport) -> None:
        """Take back everything the pack registered: nodes, display names, web folder, routes, modules."""
        for name in report.nodes:
            if self._owners.get(name) == source.name:
                del self._owners[name]
                self.registry.classes.pop(name, None)
                self.registry.display_names.pop(name, None)
        report.nodes = []
        for served_as, path in list(self.registry.web_directories.items()):
            if path == report.web_directory:
                del self.registry.web_directories[served_as]
        self.routes.remove_pack(source.name)
        _drop_modules(source)


def _pyproject_web(source: PackSource, report: PackReport) -> tuple[str | None, str]:
    """`[tool.comfy] web` of a package's pyproject.toml and the `[project] name` it is served under."""
    pyproject = source.path / "pyproject.toml"
    if not source.is_package or not pyproject.is_file():
        return None, source.name
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        report.warnings.append(f"pyproject.toml unreadable ({exc}); its [tool.comfy] web is ignored")
        return None, source.name
    web = data.get("tool", {}).get("comfy", {}).get("web")
    name = data.get("project", {}).get("name")
    return (web if isinstance(web, str) else None), (name if isinstance(name, str) and name else source.name)


def _dependency_hint(source: PackSource) -> str:
    """Where a pack that misses a module declares its dependencies, so the error says what to install."""
    for name in ("requirements.txt", "pyproject.toml"):
        declared = source.directory / name
        if source.is_package and declared.is_file():
            how = f"`pip install -r {declared}`" if name == "requirements.txt" else "pip (its [project] dependencies)"
            return (f" (the pack declares its dependencies in {declared}; "
                    f"install them into diffloom's environment with {how})")
    return ""


def _import(source: PackSource) -> ModuleType:
    """Import a pack under its §5.2 module name, registered in sys.modules so relative imports work."""
    init = source.path / "__init__.py" if source.is_package else source.path
    locations = [str(source.path)] if source.is_package else None
    spec = importlib.util.spec_from_file_location(source.module_name, init, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {init}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[source.module_name] = module
    spec.loader.exec_module(module)
    return module


def _drop_modules(source: PackSource) -> None:
    """Forget every module loaded from the pack (also ones it imported through sys.path) and its stale bytecode.

    Bytecode is checked by source mtime in whole seconds, so an edit within the same second could otherwise be
    missed by a reload.
    """
    def from_pack(key: str, file: str) -> bool:
        if key == source.module_name or key.startswith(source.module_name + "."):
            return True
        return file == str(source.path) or (source.is_package and file.startswith(str(source.path) + os.sep))

    for key, module in list(sys.modules.items()):
        if from_pack(key, getattr(module, "__file__", None) or ""):
            sys.modules.pop(key, None)
            cached = getattr(module, "__cached__", None)
            if cached and os.path.exists(cached):
                os.unlink(cached)
    importlib.invalidate_caches()
