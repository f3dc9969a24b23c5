"""Editor workflow (version 0.4 or 1, with subgraphs) to the API prompt ComfyUI's front end would post (spec §3.2).

Front-end-only nodes (Reroute, PrimitiveNode, notes) disappear: links through them are followed to the real
producer, a PrimitiveNode's value lands in the widget it feeds. Muted nodes (mode 2) are dropped with every input
linked to them; bypassed nodes (mode 4) hand a matching input through. Subgraph instances are flattened into
`"<instance id>:<inner id>"` nodes.
"""

from __future__ import annotations

from typing import Any, Mapping

from executor.formats import Link, WorkflowFormatError, links_of, subgraph_definitions
from executor.protocol import WIDGET_TYPES, input_types, spec_options, spec_type

MUTED, BYPASSED = 2, 4
FRONTEND_ONLY = frozenset({"Reroute", "PrimitiveNode", "Note", "MarkdownNote", "Label (rgthree)"})
SEED_NAMES = ("seed", "noise_seed")  # older front ends added a control widget to these without being asked
META_PROPERTIES = ("cnr_id", "ver", "aux_id")

# what resolving a link can give: a producer output, a constant, or nothing (the input is dropped)
_Source = tuple  # ("link", exec_id, slot) | ("value", value) | ("keep",) | None


def types_match(a: Any, b: Any) -> bool:
    """LiteGraph's connection rule: equal, either a wildcard, or comma-separated unions that intersect."""
    if a in ("*", "", None) or b in ("*", "", None) or a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return bool(set(a.lower().split(",")) & set(b.lower().split(",")))
    return False


def _widget_default(kind: Any, options: dict) -> Any:
    """What a widget the saved file does not mention starts with (an input added to the node since)."""
    if "default" in options:
        return options["default"]
    choices = kind if isinstance(kind, list) else options.get("options")
    return choices[0] if isinstance(choices, list) and choices and not isinstance(choices[0], dict) else _MISSING


_MISSING = object()


def _assign_widgets(declared: list[tuple[str, Any]], values: list, legacy_seed_controls: bool) -> tuple[dict, int]:
    """Walk the widgets in creation order, taking one `widgets_values` entry each (plus the entries of seed
    controls and upload buttons, which are not sent). Returns the inputs and how many entries were used."""
    queue = list(declared)
    inputs: dict[str, Any] = {}
    position = 0
    while queue:
        name, spec = queue.pop(0)
        kind, options = spec_type(spec), spec_options(spec)
        dynamic = kind == "COMFY_DYNAMICCOMBO_V3"
        if options.get("forceInput") or not (isinstance(kind, list) or kind in WIDGET_TYPES or dynamic
                                             or "widgetType" in options):
            continue
        if position < len(values):
            value = values[position]
        else:
            value = options["options"][0]["key"] if dynamic and options.get("options") else \
                _widget_default(kind, options)
        position += 1
        if value is not _MISSING:
            inputs[name] = value
        if dynamic:  # the chosen option's own inputs follow, named "<combo>.<input>"
            chosen = next((o for o in options.get("options", []) if o.get("key") == value), {})
            sub_inputs = chosen.get("inputs") or {}
            queue[:0] = [(f"{name}.{sub}", sub_spec) for category in ("required", "optional")
                         for sub, sub_spec in (sub_inputs.get(category) or {}).items()]
        if options.get("control_after_generate") or (legacy_seed_controls and kind == "INT" and name in SEED_NAMES):
            position += 1
        if options.get("image_upload"):
            position += 1
    return inputs, position


def widget_values(cls: type, values: list) -> dict:
    """Input name -> value for a node's positional `widgets_values`, in the node definition's widget order."""
    declared = input_types(cls)
    widgets = [(name, spec) for category in ("required", "optional") for name, spec in declared[category].items()]
    inputs, used = _assign_widgets(widgets, values, legacy_seed_controls=False)
    if used < len(values):
        legacy, legacy_used = _assign_widgets(widgets, values, legacy_seed_controls=True)
        if legacy_used == len(values):
            return legacy
    return inputs


class _Scope:
    """One graph level: the root workflow, or a subgraph definition seen through one instance node."""

    def __init__(self, graph: dict, definitions: dict[str, dict], prefix: str = "",
                 parent: "_Scope | None" = None, instance: dict | None = None):
        self.graph = graph
        self.definitions = definitions
        self.prefix = prefix
        self.parent = parent
        self.instance = instance
        self.nodes = {str(node["id"]): node for node in graph.get("nodes") or []}
        self.links: dict[Any, Link] = links_of(graph)
        self.input_node_id = str((graph.get("inputNode") or {}).get("id", -10))
        self.output_node_id = str((graph.get("outputNode") or {}).get("id", -20))

    def child(self, instance: dict) -> "_Scope":
        definition = self.definitions[instance["type"]]
        return _Scope(definition, self.definitions, f"{self.prefix}{instance['id']}:", self, instance)

    def resolve_link(self, link_id: Any) -> _Source:
        link = self.links.get(link_id)
        return None if link is None else self.resolve_output(str(link.origin_id), link.origin_slot)

    def resolve_output(self, origin_id: str, slot: int) -> _Source:
        """The real producer behind output `slot` of node `origin_id` in this scope."""
        if self.instance is not None and origin_id == self.input_node_id:
            outer = (self.instance.get("inputs") or [])[slot] if slot < len(self.instance.get("inputs") or []) else {}
            if outer.get("link") is None:
                return self._promoted_value(slot)
            return self.parent.resolve_link(outer["link"])
        node = self.nodes.get(origin_id)
        if node is None:
            return None
        mode = node.get("mode", 0)
        if mode == MUTED:
            return None
        if mode == BYPASSED:
            return self._through_bypassed(node, slot)
        kind = node.get("type")
        if kind == "Reroute":
            return self._follow_input(node, 0)
        if kind == "PrimitiveNode":
            values = node.get("widgets_values")
            return ("value", values[0]) if isinstance(values, list) and values else None
        if kind in self.definitions:
            child = self.child(node)
            inner = next((link for link in child.links.values()
                          if str(link.target_id) == child.output_node_id and link.target_slot == slot), None)
            return None if inner is None else child.resolve_output(str(inner.origin_id), inner.origin_slot)
        if kind in FRONTEND_ONLY:
            return None
        return ("link", self.prefix + origin_id, slot)

    def _promoted_value(self, slot: int) -> _Source:
        """An unconnected subgraph input: the instance's own widget value when the input is shown as a widget on
        the instance (its `widgets_values` hold one entry per input marked `widget`, in input order), else the
        inner widget keeps its value."""
        inputs = self.instance.get("inputs") or []
        values = self.instance.get("widgets_values")
        if slot >= len(inputs) or not inputs[slot].get("widget") or not isinstance(values, list):
            return ("keep",)
        index = sum(1 for entry in inputs[:slot] if entry.get("widget"))
        return ("value", values[index]) if index < len(values) else ("keep",)

    def _follow_input(self, node: dict, index: int) -> _Source:
        inputs = node.get("inputs") or []
        if index < 0 or index >= len(inputs) or inputs[index].get("link") is None:
            return None
        return self.resolve_link(inputs[index]["link"])

    def _through_bypassed(self, node: dict, slot: int) -> _Source:
        """Same slot index if its type fits, else the first input of exactly the output's type, else the first
        compatible one."""
        inputs = node.get("inputs") or []
        outputs = node.get("outputs") or []
        output_type = outputs[slot].get("type") if slot < len(outputs) else None
        if slot < len(inputs) and types_match(inputs[slot].get("type"), output_type):
            return self._follow_input(node, slot)
        for matches in (lambda t: t == output_type, lambda t: types_match(t, output_type)):
            index = next((i for i, entry in enumerate(inputs) if matches(entry.get("type"))), -1)
            if index >= 0:
                return self._follow_input(node, index)
        return None


def _api_order(prompt: dict) -> dict:
    """Integer-like ids first in numeric order, then the rest as inserted: how a JS object orders its keys."""
    numeric = sorted((k for k in prompt if k.isascii() and k.isdigit() and str(int(k)) == k and int(k) < 2**32 - 1),
                     key=int)
    return {**{k: prompt[k] for k in numeric}, **{k: v for k, v in prompt.items() if k not in numeric}}


def _wrap(value: Any) -> Any:
    return {"__value__": value} if isinstance(value, list) else value


def _node_inputs(scope: _Scope, node: dict, cls: type | None) -> dict:
    inputs: dict[str, Any] = {}
    values = node.get("widgets_values")
    if cls is not None and isinstance(values, list):
        inputs.update({name: _wrap(value) for name, value in widget_values(cls, values).items()})
    elif isinstance(values, dict):
        inputs.update({name: _wrap(value) for name, value in values.items()})
    for entry in node.get("inputs") or []:
        if entry.get("link") is None:
            continue
        name = (entry.get("widget") or {}).get("name") or entry.get("name")
        source = scope.resolve_link(entry["link"])
        if source is None:
            inputs.pop(name, None)
        elif source[0] == "value":
            inputs[name] = _wrap(source[1])
        elif source[0] == "link":
            inputs[name] = [source[1], source[2]]
    return inputs


def _meta(node: dict, display_names: Mapping[str, str]) -> dict:
    meta = {"title": node.get("title") or display_names.get(node["type"]) or node["type"]}
    properties = node.get("properties") or {}
    meta.update({key: properties[key] for key in META_PROPERTIES if properties.get(key) is not None})
    return meta


def _executable_nodes(scope: _Scope) -> list[tuple[_Scope, dict]]:
    """Every node that runs, subgraph instances flattened (muted or bypassed instances contribute nothing)."""
    found = []
    pending = [(scope, node) for node in scope.graph.get("nodes") or []]
    pending.reverse()
    while pending:
        current, node = pending.pop()
        if node.get("mode", 0) in (MUTED, BYPASSED) or node.get("type") in FRONTEND_ONLY:
            continue
        if node.get("type") in current.definitions:
            child = current.child(node)
            pending.extend(reversed([(child, inner) for inner in child.graph.get("nodes") or []]))
            continue
        found.append((current, node))
    return found


def editor_to_api(workflow: dict, classes: Mapping[str, type], display_names: Mapping[str, str] | None = None) -> dict:
    """The API prompt for an editor workflow; `classes` give each node's widget order."""
    if not isinstance(workflow.get("nodes"), list):
        raise WorkflowFormatError("not an editor workflow: it has no 'nodes' list")
    display_names = display_names or {}
    root = _Scope(workflow, subgraph_definitions(workflow))
    prompt = {}
    for scope, node in _executable_nodes(root):
        if "type" not in node or "id" not in node:
            raise WorkflowFormatError(f"editor node {node.get('id', '?')} has no 'type' or 'id'")
        cls = classes.get(node["type"])
        prompt[scope.prefix + str(node["id"])] = {"inputs": _node_inputs(scope, node, cls),
                                                  "class_type": node["type"],
                                                  "_meta": _meta(node, display_names)}
    return _api_order(prompt)
