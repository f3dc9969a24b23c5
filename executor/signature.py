"""Cache signatures: a digest of a node's class, constant inputs, IS_CHANGED value and upstream signatures.

Node ids are not part of a signature (except for nodes that declare UNIQUE_ID or NOT_IDEMPOTENT), so identical
sub-graphs share results within and across prompts (spec §6.4).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from typing import Any, Mapping

from executor.blocker import ExecutionBlocker
from executor.calls import gather_inputs, map_awaiting
from executor.graph_builder import is_link
from executor.protocol import ClassInfoCache

_uncacheable = itertools.count()


_PRIMITIVES = (str, int, bool, type(None))


def _canonical(value: Any) -> str | None:
    """A stable text for a JSON-like value; None for values that cannot be compared (never a cache hit)."""
    if type(value) in _PRIMITIVES or (type(value) is float and value == value):
        return f"{type(value).__name__}:{value!r}"
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None


class Signatures:
    """Signatures of one prompt's nodes (original and expanded), each computed once."""

    def __init__(self, dynprompt: Any, classes: Mapping[str, type]):
        self.dynprompt = dynprompt
        self.classes = classes
        self.digests: dict[str, str] = {}
        self.info = ClassInfoCache()
        self.is_changed: dict[str, Any] = {}

    async def prepare(self, node_ids: list[str], extra_data: dict | None = None) -> None:
        """Call IS_CHANGED (once per prompt) for the nodes that define it; an exception means "always changed"."""
        for node_id in node_ids:
            node = self.dynprompt.get_node(node_id)
            cls = self.classes.get(node.get("class_type"))
            if cls is None or not hasattr(cls, "IS_CHANGED") or node_id in self.is_changed:
                continue
            try:
                inputs, _ = gather_inputs(node_id, node, cls, None, self.dynprompt, extra_data)
                values = await map_awaiting(cls.IS_CHANGED, inputs, getattr(cls, "INPUT_IS_LIST", False))
                values = [None if isinstance(v, ExecutionBlocker) else v for v in values]
            except Exception:  # noqa: BLE001 - as in ComfyUI, a failing fingerprint forces a re-run
                values = [math.nan]
            node["is_changed"] = values
            self.is_changed[node_id] = values

    def get(self, node_id: str) -> str:
        """The signature of a node, computing its producers' first (iteratively: chains may be long)."""
        if node_id in self.digests:
            return self.digests[node_id]
        stack, on_path = [node_id], set()
        while stack:
            current = stack[-1]
            if current in self.digests:
                stack.pop()
                continue
            if current not in on_path:  # first visit: compute the producers first
                on_path.add(current)
                waiting = [p for p in self._producers(current) if p not in self.digests and p not in on_path]
                if waiting:
                    stack.extend(waiting)
                    continue
            self.digests[current] = self._digest(current)
            on_path.discard(current)
            stack.pop()
        return self.digests[node_id]

    def _producers(self, node_id: str) -> list[str]:
        if not self.dynprompt.has_node(node_id):
            return []
        inputs = self.dynprompt.get_node(node_id).get("inputs", {})
        return [v[0] for v in inputs.values() if is_link(v) and self.dynprompt.has_node(v[0])]

    def _digest(self, node_id: str) -> str:
        if not self.dynprompt.has_node(node_id):
            return f"missing:{node_id}"
        node = self.dynprompt.get_node(node_id)
        cls = self.classes.get(node.get("class_type"))
        changed = _canonical(self.is_changed.get(node_id, False))
        if cls is None or changed is None:
            return f"uncacheable:{next(_uncacheable)}"
        parts = [node["class_type"], str(id(cls)), changed, node_id if self.info[cls].unique_id else ""]
        for name in sorted(node.get("inputs", {})):
            value = node["inputs"][name]
            if is_link(value):
                upstream = self.digests.get(value[0], f"cycle:{next(_uncacheable)}")
                parts.append(f"{name}=>{upstream}#{int(value[1])}")
                continue
            text = _canonical(value)
            if text is None:
                return f"uncacheable:{next(_uncacheable)}"
            parts.append(f"{name}={text}")
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
