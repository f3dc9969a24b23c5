"""V3 packs: `comfy_entrypoint()` gives a `ComfyExtension` whose `get_node_list()` names `io.ComfyNode` classes; each
is registered under its schema's `node_id` as the V1 declaration `comfy_api.latest._adapter` builds from it."""

from __future__ import annotations

import asyncio
import inspect
import threading


def _resolve(value):
    """`value`, or its result when it is awaitable; run on a private event loop (startup may already be in one)."""
    if not inspect.isawaitable(value):
        return value
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = asyncio.run(_await(value))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="diffloom-v3-entrypoint")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


async def _await(value):
    return await value


def v3_mappings(entrypoint) -> tuple[dict[str, type], dict[str, str]]:
    """(NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS) of a V3 pack."""
    from comfy_api.latest import _adapter

    extension = _resolve(entrypoint())
    if not callable(getattr(extension, "get_node_list", None)):
        raise TypeError(f"comfy_entrypoint() must return a ComfyExtension, got {type(extension).__name__}")
    classes = _resolve(extension.get_node_list())
    mappings: dict[str, type] = {}
    display: dict[str, str] = {}
    for node in classes:
        declared = _adapter.v1_class(node)
        schema = declared.V3_SCHEMA
        mappings[schema.node_id] = declared
        if schema.display_name:
            display[schema.node_id] = schema.display_name
    return mappings, display
