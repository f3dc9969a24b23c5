"""Every built-in class in ComfyUI 0.8.0's core `/object_info` sample renders as ComfyUI renders it (V1 and V3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodes.registry import NodeRegistry

OBJECT_INFO = Path(__file__).resolve().parents[3] / "shared/data/comfyui-workflows/object_info-core.json"
STRIPPED = ("description", "output_tooltips")  # the sample has descriptions and tooltips removed
# ComfyUI lists samplers diffloom does not implement; file combos list the files of the machine it was read on
NOT_COMPARED = ("input",)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, dict, dict]]:
    if not OBJECT_INFO.exists():
        pytest.skip("../shared/data/comfyui-workflows is not available")
    real = json.loads(OBJECT_INFO.read_text())
    ours = NodeRegistry.builtin().object_info()
    missing = sorted(set(real) - set(ours))
    assert not missing, f"built-ins missing from /object_info: {missing}"
    return [(name, entry, ours[name]) for name, entry in real.items()]


def test_every_field_but_inputs_matches(pairs):
    mismatches = []
    for name, real, ours in pairs:
        trimmed = {key: value for key, value in ours.items() if key not in STRIPPED}
        if list(trimmed) != list(real):
            mismatches.append(f"{name}: keys {list(trimmed)} != {list(real)}")
        for key, value in real.items():
            if key not in NOT_COMPARED and trimmed.get(key) != value:
                mismatches.append(f"{name}.{key}: ours {trimmed.get(key)!r}, ComfyUI {value!r}")
    assert not mismatches, "\n".join(mismatches)


def test_v3_nodes_without_a_display_name_report_null(pairs):
    nulls = {name for name, real, _ in pairs if "output_matchtypes" in real and real["display_name"] is None}
    assert {"BasicScheduler", "KSamplerSelect", "SolidMask", "CLIPTextEncodeSDXL"} <= nulls
    assert all(ours["display_name"] is None for name, _, ours in pairs if name in nulls)
    # and V1 classes without a mapping keep falling back to their name (ConditioningAverage's quirk, spec §12)
    v1 = {name: ours for name, real, ours in pairs if "output_matchtypes" not in real}
    assert v1["ConditioningAverage"]["display_name"] == "ConditioningAverage"


def test_v3_entries_carry_tooltips_for_every_output(pairs):
    for name, real, ours in pairs:
        if "output_matchtypes" in real:
            assert len(ours["output_tooltips"]) == len(ours["output"]), name
