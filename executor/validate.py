"""Prompt validation with ComfyUI's error types, messages and `node_errors` shape (spec §6.2, §6.8)."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Generator, Mapping

from executor.blocker import ExecutionBlocker
from executor.calls import gather_inputs, map_sync
from executor.protocol import full_type_name, input_types, is_output_node, return_types, spec_options, \
    spec_type, validate_signature, with_dynamic_inputs

# (valid, reasons, node_id), as ComfyUI memoizes it per node
NodeVerdict = tuple[bool, list, str]


@dataclass
class ValidationResult:
    ok: bool
    error: dict | None
    outputs: list[str] = field(default_factory=list)
    node_errors: dict = field(default_factory=dict)


def _error(type_: str, message: str, details: str = "", extra_info: dict | None = None) -> dict:
    return {"type": type_, "message": message, "details": details, "extra_info": extra_info or {}}


def types_compatible(received: Any, expected: Any) -> bool:
    """Whether an output type may feed an input type (`*`, unions "A,B", combos fed by lists)."""
    if not received != expected:  # `!=` so str subclasses can declare wildcard equality
        return True
    if received == "*" or expected == "*" or "COMFY_MATCHTYPE_V3" in (received, expected):
        return True
    if isinstance(received, list) and expected == "COMBO":
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    received_set, expected_set = set(received.split(",")), set(expected.split(","))
    return "*" in received_set or "*" in expected_set or bool(received_set & expected_set)


_COERCE = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


class _Validator:
    """Validates nodes depth-first from each output; a trampoline instead of recursion so long chains fit."""

    def __init__(self, prompt: dict, classes: Mapping[str, type]):
        self.prompt = prompt
        self.classes = classes
        self.validated: dict[str, NodeVerdict] = {}
        self.declared: dict[type, dict] = {}

    def validate(self, root: str) -> NodeVerdict:
        # (node id, its checker, the link that led to it)
        stack: list[tuple[str, Generator, dict]] = [(root, self._node(root), {})]
        on_stack = {root}
        reply: Any = None
        while stack:
            node_id, checker, reached_by = stack[-1]
            try:
                link_info = checker.send(reply)
                wanted = link_info["linked_node"][0]
            except StopIteration as done:
                earlier = self.validated.get(node_id)  # a cycle found through this node is recorded on it
                self.validated[node_id] = done.value if earlier is None else \
                    (False, earlier[1] + done.value[1], node_id)
                stack.pop()
                on_stack.discard(node_id)
                reply = done.value
                continue
            except Exception as error:  # noqa: BLE001 - a node's own validation code failed
                stack.pop()
                on_stack.discard(node_id)
                if not stack:
                    raise
                # recorded against this (linked) node; its consumer learns through the failed verdict
                reply = self.validated[node_id] = (False, [_inner_exception(error, reached_by)], node_id)
                continue
            if wanted in self.validated:
                reply = self.validated[wanted]
            elif wanted in on_stack:
                path = [n for n, _, _ in stack]
                cycle = " -> ".join(path[path.index(wanted):] + [wanted])
                reply = (False, [_error("exception_during_inner_validation", "Exception when validating inner node",
                                        f"Dependency cycle detected: {cycle}",
                                        {**link_info, "exception_message": f"Dependency cycle detected: {cycle}",
                                         "exception_type": "graph.DependencyCycleError", "traceback": []})],
                         wanted)
                self.validated.setdefault(wanted, reply)
            else:
                stack.append((wanted, self._node(wanted), link_info))
                on_stack.add(wanted)
                reply = None
        return self.validated[root]

    def _node(self, node_id: str) -> Generator[dict, NodeVerdict, NodeVerdict]:
        """Checks one node; yields `{"input_name", "input_config", "linked_node"}` to have a producer validated."""
        node = self.prompt[node_id]
        cls = self.classes[node["class_type"]]
        inputs = node.setdefault("inputs", {})
        if cls not in self.declared:
            self.declared[cls] = input_types(cls)
        declared = with_dynamic_inputs(self.declared[cls], inputs)
        validate_names, validate_kwargs = validate_signature(cls)
        errors: list[dict] = []
        valid = True
        received_types: dict[str, Any] = {}
        for category in ("required", "optional"):
            for name, spec in declared[category].items():
                if name not in inputs:
                    if category == "required":
                        errors.append(_error("required_input_missing", "Required input is missing", name,
                                             {"input_name": name}))
                    continue
                info = [spec_type(spec), spec_options(spec)]
                value = inputs[name]
                if isinstance(value, list):
                    problem = self._link_problem(name, info, value)
                    if problem is not None:
                        errors.append(problem)
                        continue
                    received = return_types(self.classes[self.prompt[value[0]]["class_type"]])[value[1]]
                    received_types[name] = received
                    if "input_types" not in validate_names and not types_compatible(received, info[0]):
                        errors.append(_error(
                            "return_type_mismatch", "Return type mismatch between linked nodes",
                            f"{name}, received_type({received}) mismatch input_type({info[0]})",
                            {"input_name": name, "input_config": info, "received_type": received,
                             "linked_node": value}))
                        continue
                    verdict = yield {"input_name": name, "input_config": info, "linked_node": value}
                    if verdict[0] is False:
                        valid = False
                    continue
                problem = self._constant_problem(inputs, name, info, name in validate_names or validate_kwargs)
                if problem is not None:
                    errors.append(problem)
        if validate_names or validate_kwargs:
            errors += self._custom_validation(node_id, node, cls, validate_names, validate_kwargs, received_types)
        if errors or not valid:
            return False, errors, node_id
        return True, [], node_id

    def _link_problem(self, name: str, info: list, value: list) -> dict | None:
        extra = {"input_name": name, "input_config": info, "received_value": value}
        message = "Bad linked input, must be a length-2 list of [node_id, slot_index]"
        if len(value) != 2:
            return _error("bad_linked_input", message, name, extra)
        source, slot = value
        if not isinstance(source, str) or source not in self.prompt:
            return _error("bad_linked_input", message, f"{name}: linked node {source!r} does not exist", extra)
        outputs = return_types(self.classes[self.prompt[source]["class_type"]])
        if not isinstance(slot, int) or isinstance(slot, bool) or not 0 <= slot < len(outputs):
            return _error("bad_linked_input", message,
                          f"{name}: node {source!r} has no output {slot!r} (it has {len(outputs)})", extra)
        return None

    def _constant_problem(self, inputs: dict, name: str, info: list, custom_checked: bool) -> dict | None:
        kind, options = info
        value = inputs[name]
        try:
            if isinstance(value, dict) and "__value__" in value:
                value = inputs[name] = value["__value__"]
            if isinstance(kind, str) and kind in _COERCE:
                value = inputs[name] = _COERCE[kind](value)
        except Exception as error:  # noqa: BLE001 - any conversion failure is the user's value
            return _error("invalid_input_type", f"Failed to convert an input value to a {kind} value",
                          f"{name}, {value}, {error}", {"input_name": name, "input_config": info,
                                                        "received_value": value, "exception_message": str(error)})
        if custom_checked:
            return None
        extra = {"input_name": name, "input_config": info, "received_value": value}
        try:
            if "min" in options and value < options["min"]:
                return _error("value_smaller_than_min", f"Value {value} smaller than min of {options['min']}",
                              name, extra)
            if "max" in options and value > options["max"]:
                return _error("value_bigger_than_max", f"Value {value} bigger than max of {options['max']}",
                              name, extra)
        except TypeError as error:
            return _error("invalid_input_type", f"Failed to convert an input value to a {kind} value",
                          f"{name}, {value}, {error}", {**extra, "exception_message": str(error)})
        if isinstance(kind, list) or kind == "COMBO":
            choices = options.get("options", []) if kind == "COMBO" else kind
            picked = value if options.get("multiselect") and isinstance(value, list) else [value]
            if any(v not in choices for v in picked):
                listed = f"(list of length {len(choices)})" if len(choices) > 20 else str(choices)
                return _error("value_not_in_list", "Value not in list", f"{name}: '{value}' not in {listed}",
                              {**extra, "input_config": None if len(choices) > 20 else info})
        return None

    def _custom_validation(self, node_id: str, node: dict, cls: type, names: set[str], takes_kwargs: bool,
                           received_types: dict) -> list[dict]:
        inputs, _ = gather_inputs(node_id, node, cls)
        arguments = {k: v for k, v in inputs.items() if takes_kwargs or k in names}
        if "input_types" in names:
            arguments["input_types"] = [received_types]
        errors = []
        verdicts = map_sync(cls, "VALIDATE_INPUTS", arguments)
        for name in arguments:  # one entry per argument, as ComfyUI reports it
            for verdict in verdicts:
                if verdict is not True and not isinstance(verdict, ExecutionBlocker):
                    details = name if verdict is False else f"{name} - {verdict}"
                    errors.append(_error("custom_validation_failed", "Custom validation failed for node", details,
                                         {"input_name": name}))
        return errors


def _inner_exception(error: Exception, link_info: dict) -> dict:
    return _error("exception_during_inner_validation", "Exception when validating inner node", str(error),
                  {**link_info, "exception_message": str(error), "exception_type": full_type_name(type(error)),
                   "traceback": traceback.format_tb(error.__traceback__)})


def _prompt_shape_error(prompt: Any, classes: Mapping[str, type]) -> dict | None:
    """The first structural problem that stops validation outright (ComfyUI answers these without node_errors)."""
    if not isinstance(prompt, dict):
        return _error("invalid_prompt", "Cannot execute because the prompt is not an object of node id to node",
                      f"got {type(prompt).__name__}")
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            return _error("invalid_prompt", "Cannot execute because a node is missing the class_type property.",
                          f"Node ID '#{node_id}'")
        if not isinstance(node.get("inputs", {}), dict):
            return _error("invalid_prompt", "Cannot execute because a node's inputs are not an object.",
                          f"Node ID '#{node_id}'")
        class_type = node["class_type"]
        if not isinstance(class_type, str) or class_type not in classes:
            title = (node.get("_meta") or {}).get("title", class_type)
            # ComfyUI 0.8's type and message; extra_info adds what a client needs to point at the node.
            return _error("invalid_prompt", f"Cannot execute because node {class_type} does not exist.",
                          f"Node ID '#{node_id}'",
                          {"node_id": node_id, "class_type": class_type, "node_title": title})
    return None


def validate_prompt(prompt: dict, classes: Mapping[str, type],
                    partial_execution_targets: list[str] | None = None) -> ValidationResult:
    """Check every output's upstream graph; all problems are reported at once, valid outputs still run."""
    shape_error = _prompt_shape_error(prompt, classes)
    if shape_error is not None:
        return ValidationResult(False, shape_error)
    outputs = [node_id for node_id, node in prompt.items() if is_output_node(classes[node["class_type"]])
               and (partial_execution_targets is None or node_id in partial_execution_targets)]
    if not outputs:
        return ValidationResult(False, _error("prompt_no_outputs", "Prompt has no outputs"))
    validator = _Validator(prompt, classes)
    good: list[str] = []
    own_reasons: list[dict] = []
    node_errors: dict[str, dict] = {}
    for output_id in outputs:
        try:
            valid, reasons, _ = validator.validate(output_id)
        except Exception as error:  # noqa: BLE001 - reported as ComfyUI does, never raised to the caller
            kind, _, tb = sys.exc_info()
            reasons = [_error("exception_during_validation", "Exception when validating node", str(error),
                              {"exception_type": full_type_name(kind), "traceback": traceback.format_tb(tb)})]
            valid = False
            validator.validated[output_id] = (False, reasons, output_id)
        if valid is True:
            good.append(output_id)
            continue
        own_reasons += reasons
        for node_id, (node_valid, node_reasons, _) in validator.validated.items():
            if node_valid is not True and node_reasons:
                entry = node_errors.setdefault(node_id, {"errors": node_reasons, "dependent_outputs": [],
                                                         "class_type": prompt[node_id]["class_type"]})
                entry["dependent_outputs"].append(output_id)
    if not good:
        lines = [f"{e['message']}: {e['details']}" for e in own_reasons]
        return ValidationResult(False, _error("prompt_outputs_failed_validation", "Prompt outputs failed validation",
                                              "\n".join(lines)), [], node_errors)
    return ValidationResult(True, None, good, node_errors)


def describe(result: ValidationResult) -> str:
    """The errors of a failed validation as lines a person can read (node, class, input, problem)."""
    lines = []
    if result.error is not None:
        lines.append(f"{result.error['message']}" + (f" ({result.error['details']})"
                                                     if result.error["type"] != "prompt_outputs_failed_validation"
                                                     else ""))
    for node_id, entry in result.node_errors.items():
        for error in entry["errors"]:
            lines.append(f"  node {node_id} ({entry['class_type']}): {error['message']}: {error['details']}")
    return "\n".join(lines)
