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
        self.nodes: dict[str, dict] = {}
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
            self.nodes[node_id] = {"state": state, "value": value, "max": total}
            data = {"prompt_id": self.prompt_id, "nodes": {n: self._entry(n, s) for n, s in self.nodes.items()}}
        self.emit("progress_state", data)  # a fresh dict each time: the server serializes it later

    def _entry(self, node_id: str, state: dict) -> dict:
        return {"value": state["value"], "max": state["max"], "state": state["state"], "node_id": node_id,
                "prompt_id": self.prompt_id, "display_node_id": self.dynprompt.get_display_node_id(node_id),
                "parent_node_id": self.dynprompt.get_parent_node_id(node_id),
                "real_node_id": self.dynprompt.get_real_node_id(node_id)}
