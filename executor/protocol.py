"""Reading a V1 node class's declarations: inputs, outputs, flags and the options of one input."""

from __future__ import annotations

import inspect
from typing import Any

HIDDEN_KINDS = ("PROMPT", "EXTRA_PNGINFO", "UNIQUE_ID", "DYNPROMPT", "AUTH_TOKEN_COMFY_ORG", "API_KEY_COMFY_ORG")
WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})


def input_types(cls: type) -> dict:
    """`INPUT_TYPES()` with every category present as a dict (missing ones empty)."""
    declared = cls.INPUT_TYPES() or {}
    return {"required": declared.get("required") or {}, "optional": declared.get("optional") or {},
            "hidden": declared.get("hidden") or {}}


def spec_type(spec: Any) -> Any:
    """The TYPE part of an input spec `(TYPE,)` / `(TYPE, options)` (a list for legacy combos)."""
    return spec[0] if isinstance(spec, (list, tuple)) and spec else spec


def spec_options(spec: Any) -> dict:
    if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict):
        return spec[1]
    return {}


def find_input(declared: dict, name: str) -> tuple[str | None, Any]:
    """(category, spec) of a declared input, or (None, None).

    `<combo>.<input>` names an input of a V3 dynamic combo's options (how API prompts send them).
    """
    for category in ("required", "optional", "hidden"):
        if name in declared[category]:
            return category, declared[category][name]
    combo, _, sub = name.partition(".")
    category, spec = find_input(declared, combo) if sub else (None, None)
    if spec_type(spec) == "COMFY_DYNAMICCOMBO_V3":
        for option in spec_options(spec).get("options") or []:
            for entries in (option.get("inputs") or {}).values():
                if sub in (entries or {}):
                    return category, entries[sub]
    return None, None


def with_dynamic_inputs(declared: dict, inputs: dict) -> dict:
    """`declared` plus, for each V3 dynamic combo, the inputs of the option `inputs` chose, named
    `<combo>.<input>` (optional when the combo itself is optional), so they are validated like any other."""
    extra: dict[str, dict] = {"required": {}, "optional": {}}
    for category in ("required", "optional"):
        for name, spec in declared[category].items():
            if spec_type(spec) != "COMFY_DYNAMICCOMBO_V3":
                continue
            chosen = next((o for o in spec_options(spec).get("options") or [] if o.get("key") == inputs.get(name)), {})
            for sub_category, entries in (chosen.get("inputs") or {}).items():
                target = "required" if category == sub_category == "required" else "optional"
                extra[target].update({f"{name}.{sub}": sub_spec for sub, sub_spec in (entries or {}).items()})
    if not extra["required"] and not extra["optional"]:
        return declared
    return {**declared, "required": {**declared["required"], **extra["required"]},
            "optional": {**declared["optional"], **extra["optional"]}}


def return_types(cls: type) -> tuple:
    return tuple(getattr(cls, "RETURN_TYPES", ()) or ())


def output_is_list(cls: type) -> tuple:
    flags = getattr(cls, "OUTPUT_IS_LIST", None)
    return tuple(flags) if flags is not None else (False,) * len(return_types(cls))


def is_output_node(cls: type) -> bool:
    return getattr(cls, "OUTPUT_NODE", False) is True


def is_coroutine_function(cls: type, name: str) -> bool:
    return inspect.iscoroutinefunction(getattr(cls, name, None))


def validate_signature(cls: type) -> tuple[set[str], bool]:
    """(parameter names of VALIDATE_INPUTS, whether it takes **kwargs); empty when the class has none."""
    function = getattr(cls, "VALIDATE_INPUTS", None)
    if function is None:
        return set(), False
    parameters = inspect.signature(function).parameters.values()
    names = {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def full_type_name(kind: type) -> str:
    """`module.QualName` of an exception class, builtins unqualified (ComfyUI's `exception_type`)."""
    module = kind.__module__
    return kind.__qualname__ if module in (None, "builtins") else f"{module}.{kind.__qualname__}"


class ClassInfo:
    """What one prompt run needs to know about a class, read once (INPUT_TYPES may list files: not per node)."""

    __slots__ = ("cls", "declared", "lazy", "is_output", "is_async", "unique_id")

    def __init__(self, cls: type):
        self.cls = cls
        self.declared = input_types(cls)
        self.lazy = frozenset(name for category in ("required", "optional")
                              for name, spec in self.declared[category].items() if spec_options(spec).get("lazy"))
        self.is_output = is_output_node(cls)
        self.is_async = is_coroutine_function(cls, getattr(cls, "FUNCTION", ""))
        self.unique_id = bool(getattr(cls, "NOT_IDEMPOTENT", False)) or "UNIQUE_ID" in self.declared["hidden"].values()


class ClassInfoCache(dict):
    """class -> ClassInfo, filled on first use."""

    def __missing__(self, cls: type) -> ClassInfo:
        info = self[cls] = ClassInfo(cls)
        return info
