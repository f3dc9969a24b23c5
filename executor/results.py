"""Turning the values a node function returned into per-output item lists, UI data and expansions (spec §5.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from executor.blocker import ExecutionBlocker
from executor.protocol import output_is_list, return_types


class NodeReturnError(TypeError):
    """A node function returned something the node protocol does not allow."""


@dataclass
class CallResults:
    outputs: list  # one list of items per output
    ui: dict
    # per call: (expansion graph or None, the call's result tuple); only set when some call expanded
    expansions: list[tuple[dict | None, tuple]] = field(default_factory=list)


def _result_tuple(cls: type, value: Any, where: str) -> tuple:
    count = len(return_types(cls))
    if isinstance(value, ExecutionBlocker):
        return (value,) * count
    if value is None and count == 0:
        return ()
    if not isinstance(value, (tuple, list)):
        raise NodeReturnError(f"{where} returned {type(value).__name__}; expected a tuple of {count} values "
                              "(RETURN_TYPES), a dict with 'ui'/'result'/'expand', or an ExecutionBlocker")
    if len(value) != count:
        raise NodeReturnError(f"{where} returned {len(value)} values but RETURN_TYPES declares {count}")
    return tuple(value)


def merge_outputs(cls: type, calls: list[tuple]) -> list:
    """Per output, the items of all calls: OUTPUT_IS_LIST outputs concatenated, others one item per call."""
    count = len(return_types(cls))
    flags = output_is_list(cls)
    merged = []
    for index in range(count):
        if index < len(flags) and flags[index]:
            items: list = []
            for call in calls:
                value = call[index]
                if isinstance(value, ExecutionBlocker):
                    items.append(value)
                else:
                    items.extend(value)
            merged.append(items)
        else:
            merged.append([call[index] for call in calls])
    return merged


def collect(cls: type, returned: list, where: str) -> CallResults:
    """Interpret the return value of every call of one node."""
    tuples: list[tuple] = []
    uis: list[dict] = []
    per_call: list[tuple[dict | None, tuple]] = []
    expanded = False
    for value in returned:
        if isinstance(value, dict) and ("ui" in value or "result" in value or "expand" in value):
            if value.get("ui") is not None:
                uis.append(value["ui"])
            if "expand" in value:
                expanded = True
                result = value.get("result")
                if isinstance(result, ExecutionBlocker):
                    result = (result,) * len(return_types(cls))
                per_call.append((value["expand"], tuple(result or ())))
            elif "result" in value:
                result = _result_tuple(cls, value["result"], where)
                tuples.append(result)
                per_call.append((None, result))
            continue
        if isinstance(value, dict):
            raise NodeReturnError(f"{where} returned a dict without 'ui', 'result' or 'expand'")
        result = _result_tuple(cls, value, where)
        tuples.append(result)
        per_call.append((None, result))
    ui = {key: [item for one in uis for item in one.get(key, [])] for key in uis[0]} if uis else {}
    if expanded:
        return CallResults([], ui, per_call)
    return CallResults(merge_outputs(cls, tuples) if tuples else [], ui)
