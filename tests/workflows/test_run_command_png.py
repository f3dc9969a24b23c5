"""`diffloom run` on an editor file saves PNGs that carry both the prompt and the editor workflow, as the canvas does."""

import io
import json

import pytest

from diffloom.run_command import run
import runtime
from runtime.imaging.png_metadata import read_text_chunks

EDITOR = {"last_node_id": 2, "last_link_id": 1, "version": 0.4, "links": [[1, 1, 0, 2, 0, "IMAGE"]], "nodes": [
    {"id": 1, "type": "EmptyImage", "mode": 0, "inputs": [],
     "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}], "widgets_values": [8, 4, 1, 0]},
    {"id": 2, "type": "SaveImage", "mode": 0, "inputs": [{"name": "images", "type": "IMAGE", "link": 1}],
     "outputs": [], "widgets_values": ["carry"]}]}


@pytest.fixture(autouse=True)
def keep_paths():
    with runtime.configured():
        yield


@pytest.mark.parametrize("wrapped", [False, True])
def test_saved_png_carries_the_workflow(tmp_path, wrapped):
    source = tmp_path / "wf.json"
    if wrapped:  # a POST /prompt body: its extra_pnginfo is embedded as the server would
        from executor.convert import editor_to_api
        from nodes.registry import NodeRegistry

        prompt = editor_to_api(EDITOR, NodeRegistry.builtin().classes)
        source.write_text(json.dumps({"prompt": prompt, "extra_data": {"extra_pnginfo": {"workflow": EDITOR}}}))
    else:
        source.write_text(json.dumps(EDITOR))
    out, err = io.StringIO(), io.StringIO()
    assert run(str(source), output_dir=str(tmp_path / "out"), out=out, err=err) == 0, err.getvalue()
    chunks = read_text_chunks(tmp_path / "out" / "carry_00001_.png")
    assert json.loads(chunks["workflow"]) == EDITOR
    assert json.loads(chunks["prompt"])["2"]["class_type"] == "SaveImage"
