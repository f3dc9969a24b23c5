"""Workflow files: telling the API format from the editor format, and loading/saving them losslessly (spec §3)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class WorkflowFormatError(ValueError):
    """A file is not a workflow in either format; the message says what was found instead."""


def parse_workflow(text: str, source: str = "workflow") -> dict:
    """JSON text to a workflow dict (key order kept); malformed JSON names the line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise WorkflowFormatError(f"{source}: not valid JSON ({error.msg} at line {error.lineno}, "
                                  f"column {error.colno})") from None
    if not isinstance(data, dict):
        raise WorkflowFormatError(f"{source}: expected a JSON object, found {type(data).__name__}")
    return data


def load_workflow(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise WorkflowFormatError(f"{path}: cannot read ({error.strerror})") from None
    return parse_workflow(text, str(path))


def dump_workflow(workflow: dict, indent: int | None = 2) -> str:
    """The workflow as JSON text; every field, known or not, is written back as it was read."""
    return json.dumps(workflow, indent=indent, ensure_ascii=False)


def save_workflow(workflow: dict, path: str | Path) -> None:
    Path(path).write_text(dump_workflow(workflow) + "\n", encoding="utf-8")


def is_editor_format(data: dict) -> bool:
    return isinstance(data.get("nodes"), list) and "links" in data


def is_api_format(data: dict) -> bool:
    return bool(data) and all(isinstance(node, dict) and "class_type" in node for node in data.values())


def detect_format(data: dict) -> str:
    """"editor" or "api"; anything else is a WorkflowFormatError."""
    if is_editor_format(data):
        return "editor"
    if is_api_format(data):
        return "api"
    if "prompt" in data and isinstance(data["prompt"], dict) and is_api_format(data["prompt"]):
        return "api-wrapped"  # a POST /prompt body
    raise WorkflowFormatError("neither an editor workflow (with 'nodes' and 'links') nor an API prompt "
                              "(an object of node id -> {'class_type', 'inputs'})")


@dataclass(frozen=True)
class Link:
    id: Any
    origin_id: Any
    origin_slot: int
    target_id: Any
    target_slot: int
    type: Any


def links_of(graph: dict) -> dict[Any, Link]:
    """Link id -> Link for a graph in either link shape (version 0.4 arrays or version 1 objects)."""
    links = {}
    for raw in graph.get("links") or []:
        if isinstance(raw, list):
            link = Link(*raw[:6]) if len(raw) >= 6 else Link(*raw[:5], None)
        elif isinstance(raw, dict):
            link = Link(raw.get("id"), raw.get("origin_id"), raw.get("origin_slot"), raw.get("target_id"),
                        raw.get("target_slot"), raw.get("type"))
        else:
            raise WorkflowFormatError(f"link {raw!r} is neither an array nor an object")
        links[link.id] = link
    return links


def subgraph_definitions(workflow: dict) -> dict[str, dict]:
    """Every subgraph definition by id, including those nested inside other definitions."""
    found: dict[str, dict] = {}
    pending = [workflow]
    while pending:
        graph = pending.pop()
        for definition in (graph.get("definitions") or {}).get("subgraphs") or []:
            if definition.get("id") not in found:
                found[definition["id"]] = definition
                pending.append(definition)
    return found
