"""`/object_info` entries in ComfyUI's shape, compared with real entries from ComfyUI 0.8.0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from executor.node_info import node_info
from tests.executor import testnodes

OBJECT_INFO = Path(__file__).resolve().parents[3] / "shared/data/comfyui-workflows/object_info-core.json"


def test_v1_key_order_and_values():
    info = node_info("Add", testnodes.Add, "Add Two")
    assert list(info) == ["input", "input_order", "output", "output_is_list", "output_name", "name", "display_name",
                          "description", "python_module", "category", "output_node"]
    assert info["input"] == {"required": {"a": ["INT", {"forceInput": True}], "b": ["INT", {"default": 1}]}}
    assert info["input_order"] == {"required": ["a", "b"]}
    assert info["output"] == ["INT"] and info["output_is_list"] == [False] and info["output_name"] == ["sum"]
    assert info["display_name"] == "Add Two" and info["category"] == "sd" and info["output_node"] is False
    json.dumps(info)


def test_optional_flags_only_when_declared():
    class Flagged(testnodes.Const):
        OUTPUT_TOOLTIPS = ("the value",)
        DEPRECATED = True
        EXPERIMENTAL = True
        API_NODE = False
        DESCRIPTION = "says hi"

    info = node_info("Flagged", Flagged, None)
    assert info["display_name"] == "Flagged" and info["description"] == "says hi"
    assert list(info)[-4:] == ["output_tooltips", "deprecated", "experimental", "api_node"]
    assert info["output_tooltips"] == ["the value"] and info["deprecated"] is True


def test_hidden_inputs_render_as_strings():
    info = node_info("Output", testnodes.Output, None)
    assert info["input"]["hidden"] == {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"}
    assert info["input_order"] == {"required": ["value"], "hidden": ["prompt", "unique_id"]}
    assert info["output_node"] is True and info["output_is_list"] == [] and info["output_name"] == []


@pytest.mark.skipif(not OBJECT_INFO.exists(), reason="../shared/data/comfyui-workflows is not available")
def test_round_trip_of_real_v1_entries():
    """A class declaring exactly what a real ComfyUI V1 entry says renders back to that entry."""
    real = json.loads(OBJECT_INFO.read_text())
    checked = 0
    for name, entry in real.items():
        if "output_matchtypes" in entry or "deprecated" in entry:
            continue  # V3 entries
        attrs = {"INPUT_TYPES": classmethod(lambda cls, e=entry: e["input"]), "RETURN_TYPES": tuple(entry["output"]),
                 "RETURN_NAMES": tuple(entry["output_name"]), "FUNCTION": "run", "CATEGORY": entry["category"],
                 "OUTPUT_NODE": entry["output_node"], "OUTPUT_IS_LIST": tuple(entry["output_is_list"]),
                 "RELATIVE_PYTHON_MODULE": entry["python_module"]}
        rendered = node_info(name, type(name, (), attrs), entry["display_name"])
        rendered.pop("description")  # the shared data has descriptions stripped
        assert json.dumps(rendered) == json.dumps(entry), name
        checked += 1
    assert checked > 40


def test_v3_shape_for_classes_marked_object_info_v3():
    class Marked(testnodes.Output):
        OBJECT_INFO_V3 = True
        RETURN_TYPES = ("INT", "INT")
        OUTPUT_TOOLTIPS = ("first",)
        OUTPUT_MATCHTYPES = ("T",)
        RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_test"

    info = node_info("Marked", Marked, None)
    assert list(info) == ["input", "input_order", "output", "output_is_list", "output_name", "output_tooltips",
                          "output_matchtypes", "name", "display_name", "description", "python_module", "category",
                          "output_node", "deprecated", "experimental", "api_node"]
    assert info["display_name"] is None  # no display name given: null, not the class name
    assert info["input"]["hidden"] == {"prompt": ["PROMPT"], "unique_id": ["UNIQUE_ID"]}
    assert info["output_tooltips"] == ["first", None] and info["output_matchtypes"] == ["T"]
    assert info["python_module"] == "comfy_extras.nodes_test"
    assert (info["deprecated"], info["experimental"], info["api_node"], info["output_node"]) == \
        (False, False, False, True)
    assert node_info("Marked", Marked, "Marked Node")["display_name"] == "Marked Node"
    # the declaration itself is untouched: V1 hidden strings still drive the executor
    assert Marked.INPUT_TYPES()["hidden"] == {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"}
