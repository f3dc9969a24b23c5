"""Building API-format graphs for node expansion, with deterministic unique ids (spec §6.7)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any


def is_link(value: Any) -> bool:
    """A link is `[node_id: str, output_index: int]` (a float index is tolerated, as in ComfyUI)."""
    if not isinstance(value, list) or len(value) != 2:
        return False
    index_type = type(value[1])
    return isinstance(value[0], str) and (index_type is int or index_type is float)


@dataclass
class _PrefixState:
    root: str = ""
    call_index: int = 0
    graph_index: int = 0


# The executor sets the prefix before each node call; a context variable keeps overlapping async nodes apart.
_prefix: contextvars.ContextVar[_PrefixState] = contextvars.ContextVar("diffloom_graph_prefix")


def set_default_prefix(root: str, call_index: int, graph_index: int = 0) -> None:
    _prefix.set(_PrefixState(root, call_index, graph_index))


class Node:
    """One node of a graph being built; `out(i)` is a link to its i-th output."""

    def __init__(self, id: str, class_type: str, inputs: dict):
        self.id = id
        self.class_type = class_type
        self.inputs = inputs
        self.override_display_id: str | None = None

    def out(self, index: int) -> list:
        return [self.id, index]

    def set_input(self, key: str, value: Any) -> None:
        if value is None:
            self.inputs.pop(key, None)
        else:
            self.inputs[key] = value

    def get_input(self, key: str) -> Any:
        return self.inputs.get(key)

    def set_override_display_id(self, override_display_id: str) -> None:
        self.override_display_id = override_display_id

    def serialize(self) -> dict:
        data = {"class_type": self.class_type, "inputs": self.inputs}
        if self.override_display_id is not None:
            data["override_display_id"] = self.override_display_id
        return data


class GraphBuilder:
    """Node ids are `<expanding node id>.<call index>.<graph counter>.<n>`, unique and stable across runs."""

    def __init__(self, prefix: str | None = None):
        self.prefix = GraphBuilder.alloc_prefix() if prefix is None else prefix
        self.nodes: dict[str, Node] = {}
        self.id_gen = 1

    @classmethod
    def set_default_prefix(cls, prefix_root: str, call_index: int, graph_index: int = 0) -> None:
        set_default_prefix(prefix_root, call_index, graph_index)

    @classmethod
    def alloc_prefix(cls, root: str | None = None, call_index: int | None = None,
                     graph_index: int | None = None) -> str:
        state = _prefix.get(None)
        if state is None:
            state = _PrefixState()
            _prefix.set(state)
        root = state.root if root is None else root
        call_index = state.call_index if call_index is None else call_index
        if graph_index is None:
            graph_index = state.graph_index
        state.graph_index += 1
        return f"{root}.{call_index}.{graph_index}."

    def node(self, class_type: str, id: str | None = None, **kwargs: Any) -> Node:
        if id is None:
            id = str(self.id_gen)
            self.id_gen += 1
        full_id = self.prefix + id
        if full_id not in self.nodes:
            self.nodes[full_id] = Node(full_id, class_type, kwargs)
        return self.nodes[full_id]

    def lookup_node(self, id: str) -> Node | None:
        return self.nodes.get(self.prefix + id)

    def finalize(self) -> dict:
        return {node_id: node.serialize() for node_id, node in self.nodes.items()}

    def replace_node_output(self, node_id: str, index: int, new_value: Any) -> None:
        """Point every input linked to output `index` of `node_id` at `new_value` (None removes the input)."""
        full_id = self.prefix + node_id
        for node in self.nodes.values():
            for key, value in list(node.inputs.items()):
                if is_link(value) and value[0] == full_id and value[1] == index:
                    node.set_input(key, new_value)

    def remove_node(self, id: str) -> None:
        self.nodes.pop(self.prefix + id, None)


def add_graph_prefix(graph: dict, outputs: list, prefix: str) -> tuple[dict, list]:
    """Prefix every node id (and every link into the graph) of an API graph and its result links."""
    def rename(value: Any) -> Any:
        return [prefix + value[0], value[1]] if is_link(value) and value[0] in graph else value

    new_graph = {prefix + node_id: {**node, "inputs": {k: rename(v) for k, v in node["inputs"].items()}}
                 for node_id, node in graph.items()}
    return new_graph, [rename(o) for o in outputs]
