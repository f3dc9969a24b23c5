"""Workflow files load and save losslessly in both editor versions; formats are told apart; bad files are named."""

from __future__ import annotations

import json

import pytest

from executor.formats import WorkflowFormatError, detect_format, dump_workflow, links_of, load_workflow, \
    parse_workflow, save_workflow
from tests.executor.comfy_data import DATA, needs_data, workflow_pairs


@needs_data
@pytest.mark.parametrize("name, editor, api", workflow_pairs(), ids=[p[0] for p in workflow_pairs()])
def test_editor_files_round_trip(tmp_path, name, editor, api):
    original = json.loads(editor.read_text())
    loaded = load_workflow(editor)
    loaded["extra"]["unknown_future_field"] = {"kept": [1, 2.5, None]}
    target = tmp_path / "saved.json"
    save_workflow(loaded, target)
    again = load_workflow(target)
    assert again.pop("extra")["unknown_future_field"] == {"kept": [1, 2.5, None]}
    assert again == {k: v for k, v in original.items() if k != "extra"}
    assert list(again) == [k for k in original if k != "extra"]  # key order kept
    assert detect_format(original) == "editor" and detect_format(json.loads(api.read_text())) == "api"


@needs_data
def test_big_integers_survive():
    text = (DATA / "editor" / "lora.json").read_text()
    seed = load_workflow(DATA / "editor" / "lora.json")["nodes"][0]["widgets_values"][0]
    assert str(seed) in text and parse_workflow(dump_workflow({"seed": 18446744073709551615}))["seed"] == 2**64 - 1


def test_links_in_both_versions_read_the_same():
    old = {"nodes": [], "links": [[4, 1, 0, 2, 1, "INT"]]}
    new = {"nodes": [], "links": [{"id": 4, "origin_id": 1, "origin_slot": 0, "target_id": 2, "target_slot": 1,
                                   "type": "INT", "parentId": 3}]}
    assert links_of(old) == links_of(new)
    assert links_of(old)[4].target_slot == 1


def test_bad_files_are_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": [1, 2,,]}')
    with pytest.raises(WorkflowFormatError, match=r"broken.json: not valid JSON .* line 1, column 17"):
        load_workflow(broken)
    with pytest.raises(WorkflowFormatError, match="expected a JSON object, found list"):
        parse_workflow("[1]")
    with pytest.raises(WorkflowFormatError, match="cannot read"):
        load_workflow(tmp_path / "missing.json")
    with pytest.raises(WorkflowFormatError, match="neither an editor workflow"):
        detect_format({"1": {"inputs": {}}})
