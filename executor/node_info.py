"""One class rendered as its `/object_info` entry, in ComfyUI's V1 or V3 key order and shape (spec §1.6)."""

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
    """The `/object_info` entry of one node class: V1 shape, or V3 shape for classes with `OBJECT_INFO_V3 = True`."""
    if getattr(cls, "OBJECT_INFO_V3", False):
        return _v3_info(name, cls, display_name)
    declared = cls.INPUT_TYPES() or {}
    outputs = list(return_types(cls))
    info: dict[str, Any] = {
        **_inputs_and_outputs(cls, declared, outputs),
        **_identity(name, cls, display_name or name),
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


def _inputs_and_outputs(cls: type, declared: dict, outputs: list[str]) -> dict:
    return {"input": _jsonable(declared),
            "input_order": {category: list(entries or {}) for category, entries in declared.items()},
            "output": outputs,
            "output_is_list": list(output_is_list(cls)),
            "output_name": list(getattr(cls, "RETURN_NAMES", None) or outputs)}


def _identity(name: str, cls: type, display_name: str | None) -> dict:
    """The name, description, module, category and output flag of both shapes, in ComfyUI's key order."""
    return {"name": name,
            "display_name": display_name,
            "description": getattr(cls, "DESCRIPTION", "") or "",
            "python_module": python_module(cls),
            "category": getattr(cls, "CATEGORY", "sd"),
            "output_node": bool(getattr(cls, "OUTPUT_NODE", False))}


def _v3_info(name: str, cls: type, display_name: str | None) -> dict:
    """ComfyUI's entry for a V3 (`comfy_api`) node: every key always present, no display name is null (§1.6)."""
    declared = dict(cls.INPUT_TYPES() or {})
    if declared.get("hidden"):  # V3 hidden inputs render as 1-tuples: {"prompt": ["PROMPT"]}
        declared["hidden"] = {key: [value] if isinstance(value, str) else value
                              for key, value in declared["hidden"].items()}
    outputs = list(return_types(cls))
    tooltips = list(getattr(cls, "OUTPUT_TOOLTIPS", ()))
    matchtypes = getattr(cls, "OUTPUT_MATCHTYPES", None)
    return {
        **_inputs_and_outputs(cls, declared, outputs),
        "output_tooltips": tooltips + [None] * (len(outputs) - len(tooltips)),
        "output_matchtypes": list(matchtypes) if matchtypes else None,
        **_identity(name, cls, display_name or None),
        "deprecated": bool(getattr(cls, "DEPRECATED", False)),
        "experimental": bool(getattr(cls, "EXPERIMENTAL", False)),
        "api_node": bool(getattr(cls, "API_NODE", False)),
    }
