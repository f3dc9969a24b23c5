"""Gathering a node's inputs as lists and slicing them into the calls of its functions (spec §6.3)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any, Callable

from executor.blocker import ExecutionBlocker
from executor.graph_builder import is_link
from executor.protocol import find_input, input_types

# (producer id, output index) -> list of items, or None when not (yet) available
Lookup = Callable[[str, int], "list | None"]


def gather_inputs(node_id: str, node: dict, cls: type, lookup: Lookup | None = None, dynprompt: Any = None,
                  extra_data: dict | None = None, declared: dict | None = None) -> tuple[dict[str, list], set[str]]:
    """Each input as a list of items: constants wrapped, links looked up, hidden values filled in.

    Returns the inputs and the names of linked inputs whose values are not available (passed as [None]).
    `declared` is the class's INPUT_TYPES() when the caller already has it.
    """
    declared = declared if declared is not None else input_types(cls)
    extra_data = extra_data or {}
    values: dict[str, list] = {}
    missing: set[str] = set()
    for name, value in node.get("inputs", {}).items():
        category, spec = find_input(declared, name)
        options = spec[1] if category != "hidden" and isinstance(spec, (list, tuple)) and len(spec) > 1 else {}
        if is_link(value) and not (isinstance(options, dict) and options.get("rawLink")):
            items = lookup(value[0], int(value[1])) if lookup is not None else None
            if items is None:
                missing.add(name)
                items = [None]
            values[name] = items
        elif category is not None:
            values[name] = [value]
    for name, kind in declared["hidden"].items():
        values[name] = [_hidden_value(kind, node_id, dynprompt, extra_data)]
    return values, missing


def _hidden_value(kind: Any, node_id: str, dynprompt: Any, extra_data: dict) -> Any:
    if kind == "PROMPT":
        return dynprompt.get_original_prompt() if dynprompt is not None else {}
    if kind == "EXTRA_PNGINFO":
        return extra_data.get("extra_pnginfo")
    if kind == "UNIQUE_ID":
        return node_id
    if kind == "DYNPROMPT":
        return dynprompt
    if kind == "AUTH_TOKEN_COMFY_ORG":
        return extra_data.get("auth_token_comfy_org")
    if kind == "API_KEY_COMFY_ORG":
        return extra_data.get("api_key_comfy_org")
    return None


def call_arguments(inputs: dict[str, list], input_is_list: bool) -> list[dict]:
    """The keyword arguments of each call: one call with whole lists, or one per item (short lists repeat their last)."""
    if input_is_list:
        return [inputs]
    length = max((len(v) for v in inputs.values()), default=0)
    if length == 0:
        return [{}]
    return [{k: (v[i] if len(v) > i else v[-1]) if v else None for k, v in inputs.items()} for i in range(length)]


def blocker_in(arguments: dict, input_is_list: bool) -> ExecutionBlocker | None:
    for value in arguments.values():
        for item in (value if input_is_list else (value,)):
            if isinstance(item, ExecutionBlocker):
                return item
    return None


def run_sync(value: Any) -> Any:
    """The result of `value`, awaiting it first if it is awaitable (on a helper thread if a loop already runs)."""
    if not inspect.isawaitable(value):
        return value

    async def wait() -> Any:
        return await value

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["result"] = asyncio.run(wait())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


async def map_awaiting(function: Callable, inputs: dict[str, list], input_is_list: bool) -> list:
    """Call `function` once per list item (or once with the lists), awaiting coroutines; blocked items give the
    blocker."""
    results = []
    for arguments in call_arguments(inputs, input_is_list):
        blocker = blocker_in(arguments, input_is_list)
        value = blocker if blocker is not None else function(**arguments)
        results.append(await value if inspect.isawaitable(value) else value)
    return results


def map_sync(cls: type, function_name: str, inputs: dict[str, list], instance: Any = None) -> list:
    """Call a (class)method once per list item, awaiting coroutines; blocked items give the blocker."""
    input_is_list = getattr(cls, "INPUT_IS_LIST", False)
    function = getattr(instance if instance is not None else cls, function_name)
    results = []
    for arguments in call_arguments(inputs, input_is_list):
        blocker = blocker_in(arguments, input_is_list)
        results.append(blocker if blocker is not None else run_sync(function(**arguments)))
    return results
