"""Built-in node classes, one module per pipeline stage.

Every module here defines NODE_CLASS_MAPPINGS (and optionally NODE_DISPLAY_NAME_MAPPINGS) and must import without
torch: heavy libraries are imported inside node functions, so the server answers /object_info quickly.
"""

import importlib
import pkgutil


def collect() -> tuple[dict[str, type], dict[str, str]]:
    """Import every stage module (sorted by name) and merge their mappings."""
    classes: dict[str, type] = {}
    names: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, cls in getattr(module, "NODE_CLASS_MAPPINGS", {}).items():
            if key in classes:
                raise RuntimeError(f"node class {key!r} defined twice (second in nodes.stages.{info.name})")
            classes[key] = cls
        names.update(getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", {}))
    return classes, names
