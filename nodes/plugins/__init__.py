"""Custom node packs: discovery, loading, live reload, and the ComfyUI compatibility modules they import.

Start-up: `NodeRegistry.builtin().with_plugins(roots)` loads every pack into the registry and logs the import times;
the server then calls `bind_server(...)` and adds `plugin_routes()` (see web/server/plugins.py).
The plugin API is documented in docs/plugins.md.
"""

from pathlib import Path

from nodes.plugins.manager import PackNotFound, PluginManager
from nodes.plugins.prestartup import run_prestartup_scripts
from nodes.plugins.report import PackReport, format_import_times
from nodes.plugins.server_bridge import PluginServer, bind_server, plugin_routes

__all__ = ["PackNotFound", "PackReport", "PluginManager", "PluginServer", "bind_server", "format_import_times",
           "plugin_routes", "default_roots", "run_prestartup_scripts", "CANVAS_EXTENSION"]

# The canvas side of the plugin system (failed-pack notices, reload commands), served like a pack's WEB_DIRECTORY.
CANVAS_EXTENSION = ("diffloom.custom_nodes", Path(__file__).with_name("web"))


def default_roots(paths=None) -> list:
    """The custom_nodes roots: every path of the `custom_nodes` folder key (base dir plus extra_model_paths)."""
    from runtime.settings import current

    return list((paths or current().paths).folder_dirs("custom_nodes"))
