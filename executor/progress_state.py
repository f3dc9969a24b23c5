"""The running prompt's per-node progress, sent whole as a `progress_state` event on every change (spec §2.2)."""

from __future__ import annotations

import threading
from typing import Callable

from executor.dynprompt import DynamicPrompt

RUNNING, FINISHED = "running", "finished"


class NodeStates:
    """Node id -> state/value/max for every node that started, progressed or finished in this prompt.

    Nodes that have not started are left out of the event, as ComfyUI leaves out its `pending` ones; a node that
    fails or is interrupted keeps its last state.
    """

    def __init__(self, prompt_id: str, dynprompt: DynamicPrompt, emit: Callable[[str, dict], None]):
        self.prompt_id = prompt_id
        self.dynprompt = dynprompt
        self.emit = emit
        self.nodes: dict[str, dict] = {}  # node id -> its event entry
        self._id_cache: dict[str, dict] = {}
        self._lock = threading.Lock()  # progress may be reported from a node's worker thread

    def start(self, node_id: str) -> None:
        self._set(node_id, RUNNING, 0.0, 1.0)

    def update(self, node_id: str, value: float, total: float) -> None:
        self._set(node_id, RUNNING, value, total)

    def finish(self, node_id: str) -> None:
        total = self.nodes.get(node_id, {}).get("max", 1.0)
        self._set(node_id, FINISHED, total, total)

    def _set(self, node_id: str, state: str, value: float, total: float) -> None:
        with self._lock:
            # Entries are replaced, never mutated, so each event needs only a shallow copy of the mapping (the
            # server serializes an event later, on its own thread); a full rebuild per event made long prompts
            # quadratic.
            self.nodes[node_id] = {"value": value, "max": total, "state": state, **self._ids(node_id)}
            data = {"prompt_id": self.prompt_id, "nodes": dict(self.nodes)}
        self.emit("progress_state", data)

    def _ids(self, node_id: str) -> dict:
        known = self._id_cache.get(node_id)
        if known is None:
            known = self._id_cache[node_id] = {
                "node_id": node_id, "prompt_id": self.prompt_id,
                "display_node_id": self.dynprompt.get_display_node_id(node_id),
                "parent_node_id": self.dynprompt.get_parent_node_id(node_id),
                "real_node_id": self.dynprompt.get_real_node_id(node_id)}
        return known
