"""Results of expanded nodes under the cache policies (spec §6.7): ComfyUI keeps them in a sub-cache per expanding
node (its id and class), so they outlive a change to that node's own inputs even under the classic policy."""

from __future__ import annotations

import pytest

from tests.executor import testnodes


def expanding(b: int) -> dict:
    """Const 2 + 3 = 5 feeds AddViaExpansion, which expands into Const(5) + Add(Const, b)."""
    return {"1": {"class_type": "Const", "inputs": {"value": 2}},
            "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 3}},
            "3": {"class_type": "AddViaExpansion", "inputs": {"a": ["2", 0], "b": b}},
            "4": {"class_type": "Output", "inputs": {"value": ["3", 0]}}}


@pytest.mark.parametrize("mode", ["classic", "budget", "lru"])
def test_an_expansion_reruns_only_what_a_changed_widget_reaches(make_recorder, mode):
    recorder = make_recorder(mode, lru_size=100)
    assert recorder.run(expanding(b=1)).outputs["4"] == {"values": [6]}
    again = recorder.run(expanding(b=10))
    assert again.outputs["4"] == {"values": [15]}
    assert "3.0.0.2" in again.ran  # the inner Add sees the new b
    # the inner Const(5) does not depend on b: still cached, although node 3's own signature changed
    assert "3.0.0.1" not in again.ran and ("Const", {"value": 5}) not in testnodes.CALLS


def test_classic_drops_an_expansion_once_its_node_leaves_the_prompt(make_recorder):
    recorder = make_recorder("classic")
    recorder.run(expanding(b=1))
    recorder.run({"9": {"class_type": "Output", "inputs": {"value": 1}}})
    again = recorder.run(expanding(b=10))
    assert "3.0.0.1" in again.ran  # ComfyUI drops a sub-cache whose expanding node is gone
