"""Our sampling and conditioning node declarations against ComfyUI 0.8.0's /object_info (shared test data)."""

import json
from pathlib import Path

import pytest

from nodes.registry import NodeRegistry

OBJECT_INFO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "comfyui-workflows" / \
    "object_info-core.json"
NODES = ["KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced", "KSamplerSelect", "BasicScheduler",
         "KarrasScheduler", "ExponentialScheduler", "SDTurboScheduler", "SplitSigmas", "RandomNoise", "DisableNoise",
         "CFGGuider", "BasicGuider", "ConditioningCombine", "ConditioningAverage", "ConditioningConcat",
         "ConditioningSetArea", "ConditioningSetAreaPercentage", "ConditioningSetMask", "ConditioningZeroOut",
         "ConditioningSetTimestepRange"]


@pytest.fixture(scope="module")
def reference():
    if not OBJECT_INFO.exists():
        pytest.skip(f"ComfyUI object_info reference not found at {OBJECT_INFO}")
    return json.loads(OBJECT_INFO.read_text())


def _sampler_list(declaration):
    """The sampler options of a sampler_name declaration (V1 list or V3 COMBO)."""
    return declaration[0] if isinstance(declaration[0], list) else declaration[1]["options"]


@pytest.mark.parametrize("name", NODES)
def test_inputs_outputs_and_category_match(reference, name):
    ours, theirs = NodeRegistry.builtin().object_info(name)[name], reference[name]
    for key in ("input_order", "output", "output_is_list", "output_name", "category", "output_node"):
        assert ours[key] == theirs[key], key
    for section, inputs in theirs["input"].items():
        for input_name, declaration in inputs.items():
            mine = ours["input"][section][input_name]
            if input_name == "sampler_name":  # ours lists only implemented samplers, in ComfyUI's order
                implemented = _sampler_list(mine)
                assert implemented == [s for s in _sampler_list(declaration) if s in implemented]
            else:
                assert mine == declaration, input_name
    if theirs["python_module"] == "nodes":
        assert ours["display_name"] == theirs["display_name"]
    else:
        assert ours["python_module"] == theirs["python_module"]
