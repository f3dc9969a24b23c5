"""A V3 node class as the V1 declaration diffloom's executor and /object_info read.

`v1_class(node)` calls `define_schema()` once and builds a subclass with INPUT_TYPES, RETURN_TYPES, RETURN_NAMES,
OUTPUT_IS_LIST, OUTPUT_NODE, CATEGORY, DESCRIPTION, and an `execute` entry point (async when the node's is) that
fills `cls.hidden`, calls the node's `execute` and turns its `NodeOutput` into a V1 result. `validate_inputs`,
`fingerprint_inputs` and `check_lazy_status` become VALIDATE_INPUTS, IS_CHANGED and check_lazy_status.
"""

from __future__ import annotations

import inspect

from . import _io as io

FUNCTION = "EXECUTE_NORMALIZED"


def v1_class(node: type) -> type:
    schema = node.define_schema()
    if not isinstance(schema, io.Schema):
        raise TypeError(f"{node.__name__}.define_schema() must return io.Schema, got {type(schema).__name__}")
    _check_unique(schema)
    hidden = list(schema.hidden)
    if schema.is_output_node:  # as in ComfyUI: output nodes always get the workflow for their metadata
        hidden += [h for h in (io.Hidden.prompt, io.Hidden.extra_pnginfo) if h not in hidden]
    outputs = schema.outputs
    names = [out.display_name or out.id or out.io_type for out in outputs]
    attributes = {
        "INPUT_TYPES": classmethod(lambda cls: _input_types(schema, hidden)),
        "RETURN_TYPES": tuple(out.io_type for out in outputs),
        "RETURN_NAMES": tuple(names),
        "OUTPUT_IS_LIST": tuple(out.is_output_list for out in outputs),
        "OUTPUT_TOOLTIPS": tuple(out.tooltip for out in outputs),
        "OUTPUT_NODE": schema.is_output_node,
        "INPUT_IS_LIST": schema.is_input_list,
        "CATEGORY": schema.category,
        "DESCRIPTION": schema.description,
        "DEPRECATED": schema.is_deprecated,
        "EXPERIMENTAL": schema.is_experimental,
        "NOT_IDEMPOTENT": schema.not_idempotent,
        "FUNCTION": FUNCTION,
        "V3_SCHEMA": schema,
        FUNCTION: _entry(node, hidden),
    }
    if _overrides(node, "validate_inputs"):
        attributes["VALIDATE_INPUTS"] = classmethod(lambda cls, **kw: node.validate_inputs(**kw))
    if _overrides(node, "fingerprint_inputs"):
        attributes["IS_CHANGED"] = classmethod(lambda cls, **kw: node.fingerprint_inputs(**kw))
    if _overrides(node, "check_lazy_status"):
        attributes["check_lazy_status"] = lambda self, **kw: node.check_lazy_status(**kw)
    return type(node.__name__, (node,), attributes)


def _overrides(node: type, name: str) -> bool:
    return callable(getattr(node, name, None))


def _check_unique(schema: io.Schema) -> None:
    for kind, items in (("input", schema.inputs), ("output", [o for o in schema.outputs if o.id])):
        ids = [item.id for item in items]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"{schema.node_id}: {kind} ids must be unique, repeated: {repeated}")


def _input_types(schema: io.Schema, hidden: list) -> dict:
    required = {i.id: i.v1() for i in schema.inputs if not i.optional}
    optional = {i.id: i.v1() for i in schema.inputs if i.optional}
    types: dict = {"required": required}
    if optional:
        types["optional"] = optional
    if hidden:
        types["hidden"] = {h.name: h.value for h in hidden}
    return types


def _entry(node: type, hidden: list):
    """The V1 FUNCTION: hidden inputs go to `cls.hidden`, the rest to `execute`; the result becomes V1's."""
    names = {h.name for h in hidden}

    def split(kwargs: dict) -> dict:
        return {name: kwargs.pop(name) for name in list(kwargs) if name in names}

    if inspect.iscoroutinefunction(node.execute):
        async def run_async(self, **kwargs):
            clone = _clone(node, split(kwargs))
            return _v1_result(await clone.execute(**kwargs))
        return run_async

    def run(self, **kwargs):
        clone = _clone(node, split(kwargs))
        return _v1_result(clone.execute(**kwargs))
    return run


def _clone(node: type, hidden: dict) -> type:
    """A subclass per call carrying that call's hidden values, so concurrent runs do not share `cls.hidden`."""
    return type(node.__name__, (node,), {"hidden": io.HiddenHolder(hidden)})


def _v1_result(result):
    if isinstance(result, io.NodeOutput):
        if result.block_execution is not None:
            from comfy_execution.graph import ExecutionBlocker

            return (ExecutionBlocker(result.block_execution),)
        out: dict = {"result": tuple(result.values)}
        if result.ui is not None:
            out["ui"] = dict(result.ui)
        if result.expand is not None:
            out["expand"] = result.expand
        return out
    return result  # a tuple or a V1-style dict, as ComfyUI accepts
