"""The node registry: built-in classes plus plugin packs, as the executor and the server see them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class NodeRegistry:
    classes: dict[str, type] = field(default_factory=dict)
    display_names: dict[str, str] = field(default_factory=dict)
    # pack name -> directory whose .js files are served at /extensions/<pack name>/
    web_directories: dict[str, Path] = field(default_factory=dict)
    builtin_names: frozenset[str] = frozenset()
    # the nodes.plugins.PluginManager that loaded custom packs into this registry (None: no plugins loaded)
    plugins: Any = None

    @classmethod
    def builtin(cls) -> "NodeRegistry":
        import nodes

        return cls(classes=dict(nodes.NODE_CLASS_MAPPINGS), display_names=dict(nodes.NODE_DISPLAY_NAME_MAPPINGS),
                   builtin_names=frozenset(nodes.NODE_CLASS_MAPPINGS))

    def with_plugins(self, roots=None, *, disable_all: bool = False, whitelist=()) -> "NodeRegistry":
        """Load the custom node packs of `roots` (default: the `custom_nodes` folder paths) into this registry."""
        from nodes.plugins import PluginManager, default_roots

        self.plugins = PluginManager(self, default_roots() if roots is None else roots, whitelist=tuple(whitelist))
        self.plugins.load_all(disable_all=disable_all)
        return self

    def object_info(self, class_type: str | None = None) -> dict:
        """`GET /object_info` (or one class of it) in ComfyUI's shape."""
        from executor.node_info import node_info

        names = [class_type] if class_type is not None else list(self.classes)
        info = {}
        for name in names:
            if name not in self.classes:
                continue
            try:
                info[name] = node_info(name, self.classes[name], self.display_names.get(name))
            except Exception:  # one broken (plugin) declaration must not hide every other node (spec §1.6)
                logging.getLogger(__name__).exception("/object_info skips %s: its declaration raised", name)
        return info
