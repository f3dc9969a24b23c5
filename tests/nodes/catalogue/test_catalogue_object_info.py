"""The catalogue nodes declare what ComfyUI 0.8.0 reports in /object_info (where the sample has them)."""

import json
from pathlib import Path

import pytest

import nodes
from executor.node_info import node_info

CORE_INFO = Path(__file__).resolve().parents[4] / "shared/data/comfyui-workflows/object_info-core.json"
OURS = ["ResizeImageMaskNode", "SaveImageWebsocket", "CLIPVisionLoader", "CLIPVisionEncode", "unCLIPConditioning",
        "UpscaleModelLoader", "ImageUpscaleWithModel", "GLIGENLoader", "GLIGENTextBoxApply"]
FILE_COMBOS = {"CLIPVisionLoader": "clip_name", "UpscaleModelLoader": "model_name", "GLIGENLoader": "gligen_name"}


def without_files(spec: list) -> list:
    """A combo declaration with its option list emptied, V1 (`[[names]]`) or V3 (`["COMBO", {"options"}]`)."""
    if isinstance(spec[0], list):
        return [[], *spec[1:]]
    return [spec[0], {**spec[1], "options": []}]


def reference() -> dict:
    if not CORE_INFO.is_file():
        pytest.skip(f"{CORE_INFO} not available")
    return json.loads(CORE_INFO.read_text())


@pytest.mark.parametrize("name", OURS)
def test_declaration_matches_comfyui(name):
    if name not in nodes.NODE_CLASS_MAPPINGS:
        pytest.skip(f"{name} is not implemented")
    ref = reference()[name]
    ours = node_info(name, nodes.NODE_CLASS_MAPPINGS[name], nodes.NODE_DISPLAY_NAME_MAPPINGS.get(name))
    for key in ("input_order", "output", "output_name", "output_is_list", "category", "output_node",
                "python_module"):
        if key == "python_module" and ref[key].startswith("comfy_extras"):
            continue  # ours are all reported as "nodes" unless they come from a custom pack in ComfyUI
        assert ours[key] == ref[key], key
    assert ours["display_name"] == (ref["display_name"] or name)
    ours_inputs, ref_inputs = ours["input"], json.loads(json.dumps(ref["input"]))
    if name in FILE_COMBOS:  # model-file combos list the files of the machine they were read on
        key = FILE_COMBOS[name]
        ours_inputs["required"][key] = without_files(ours_inputs["required"][key])
        ref_inputs["required"][key] = without_files(ref_inputs["required"][key])
    assert ours_inputs == ref_inputs
