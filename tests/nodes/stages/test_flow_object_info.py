"""The rectified-flow and Kontext nodes (ModelSamplingSD3/AuraFlow/Flux, FluxGuidance, FluxDisableGuidance,
EmptySD3LatentImage, ReferenceLatent, FluxKontextImageScale, FluxKontextMultiReferenceLatentMethod) declare what a recent ComfyUI reports in /object_info: ComfyUI 0.8.0's sample has none of
them, so the reference is the recent sheet (families.md, `object_info-recent.json`)."""

import json
from pathlib import Path

import pytest

from nodes.registry import NodeRegistry

RECENT_INFO = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "object_info-recent.json"
NODES = ["ModelSamplingSD3", "ModelSamplingAuraFlow", "ModelSamplingFlux", "FluxGuidance", "FluxDisableGuidance",
         "EmptySD3LatentImage", "ReferenceLatent", "FluxKontextImageScale", "FluxKontextMultiReferenceLatentMethod"]
# every key our /object_info renders for these nodes; the recent ComfyUI adds a few more
# (search_aliases, has_intermediate_output, is_input_list, dev_only) that no node of ours reports
KEYS = ("input", "input_order", "output", "output_is_list", "output_name", "name", "display_name", "description",
        "python_module", "category", "output_node")
V3_KEYS = ("output_tooltips", "output_matchtypes", "deprecated", "experimental", "api_node")


@pytest.fixture(scope="module")
def reference():
    if not RECENT_INFO.is_file():
        pytest.skip(f"{RECENT_INFO} not available")
    return json.loads(RECENT_INFO.read_text())


@pytest.mark.parametrize("name", NODES)
def test_declaration_matches_recent_comfyui(reference, name):
    ours, theirs = NodeRegistry.builtin().object_info(name)[name], reference[name]
    for key in KEYS + tuple(k for k in V3_KEYS if k in theirs):
        assert ours[key] == theirs[key], key
    assert list(ours["input"]["required"]) == list(theirs["input"]["required"])  # widget order
