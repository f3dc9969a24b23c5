"""The real ComfyUI workflows in ../shared, and stand-in node classes built from its object_info entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared/data/comfyui-workflows"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} (ComfyUI reference workflows) is not available")

# V3 nodes report display_name null in object_info; the front end titles them with these names
FRONTEND_TITLES = {"Canny": "Detect Edges (Canny)", "ImageScaleToTotalPixels": "Scale Image to Total Pixels"}


def object_info() -> dict:
    return json.loads((DATA / "object_info-core.json").read_text())


def standin_class(name: str, entry: dict) -> type:
    """A class declaring exactly the inputs and outputs of a real entry (it never runs)."""
    return type(name, (), {"INPUT_TYPES": classmethod(lambda cls: entry["input"]),
                           "RETURN_TYPES": tuple(entry["output"]), "FUNCTION": "run",
                           "OUTPUT_NODE": entry["output_node"]})


def standin_classes() -> tuple[dict, dict]:
    """(classes, display names) for every node in object_info-core.json."""
    info = object_info()
    classes = {name: standin_class(name, entry) for name, entry in info.items()}
    names = {name: entry["display_name"] for name, entry in info.items() if entry["display_name"]}
    return classes, {**names, **FRONTEND_TITLES}


def workflow_pairs() -> list[tuple[str, Path, Path]]:
    if not DATA.is_dir():
        return []
    return [(path.stem, path, DATA / "api" / path.name) for path in sorted((DATA / "editor").glob("*.json"))]
