"""One class rendered as its `/object_info` entry, in ComfyUI's V1 key order and shape (spec §1.6)."""

from __future__ import annotations

from typing import Any

from executor.protocol import output_is_list, return_types


def _jsonable(value: Any) -> Any:
    """Tuples become lists (as JSON would print them); everything else as declared."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def python_module(cls: type) -> str:
    """ComfyUI's `python_module`: "nodes" for built-ins, `custom_nodes.<pack>` for plugins (set at load)."""
    relative = getattr(cls, "RELATIVE_PYTHON_MODULE", None)
    if relative:
        return relative
    module = cls.__module__ or "nodes"
    return "nodes" if module == "nodes" or module.startswith("nodes.") else module


def node_info(name: str, cls: type, display_name: str | None) -> dict:
    """The `/object_info` entry of one V1 node class."""
    declared = cls.INPUT_TYPES() or {}
    outputs = list(return_types(cls))
    info: dict[str, Any] = {
        "input": _jsonable(declared),
        "input_order": {category: list(entries or {}) for category, entries in declared.items()},
        "output": outputs,
        "output_is_list": list(output_is_list(cls)),
        "output_name": list(getattr(cls, "RETURN_NAMES", None) or outputs),
        "name": name,
        "display_name": display_name or name,
        "description": getattr(cls, "DESCRIPTION", "") or "",
        "python_module": python_module(cls),
        "category": getattr(cls, "CATEGORY", "sd"),
        "output_node": bool(getattr(cls, "OUTPUT_NODE", False)),
    }
    if hasattr(cls, "OUTPUT_TOOLTIPS"):
        info["output_tooltips"] = list(cls.OUTPUT_TOOLTIPS)
    if getattr(cls, "DEPRECATED", False):
        info["deprecated"] = True
    if getattr(cls, "EXPERIMENTAL", False):
        info["experimental"] = True
    if hasattr(cls, "API_NODE"):
        info["api_node"] = cls.API_NODE
    return info
