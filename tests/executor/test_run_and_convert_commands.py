"""`diffloom run` and `diffloom convert` with the test nodes."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pytest

from diffloom.run_command import convert, run
import runtime
from tests.executor import testnodes


@dataclass
class Registry:
    classes: dict = field(default_factory=lambda: dict(testnodes.NODE_CLASS_MAPPINGS))
    display_names: dict = field(default_factory=dict)


@pytest.fixture(autouse=True)
def keep_paths():
    with runtime.configured():
        yield


def write(tmp_path, data, name="wf.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def invoke(function, *args, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    code = function(*args, registry=Registry(), out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


API = {"1": {"class_type": "Const", "inputs": {"value": 4}},
       "2": {"class_type": "SaveText", "inputs": {"value": ["1", 0], "filename_prefix": "answer"}}}


def test_run_api_workflow_with_override_and_output_dir(tmp_path):
    code, out, err = invoke(run, write(tmp_path, API), output_dir=str(tmp_path / "out"), overrides=["1.value=42"])
    assert code == 0, err
    assert (tmp_path / "out" / "answer_42.txt").read_text() == "42"
    assert "ran 2 node(s): 1, 2" in out and "cache holds 2 result(s)" in out
    assert f"output: {tmp_path / 'out' / 'answer_42.txt'}" in out


def test_run_editor_workflow(tmp_path):
    editor = {"nodes": [
        {"id": 1, "type": "Const", "mode": 0, "inputs": [], "outputs": [{"name": "INT", "type": "INT", "links": [1]}],
         "widgets_values": [3]},
        {"id": 2, "type": "SaveText", "mode": 0, "inputs": [{"name": "value", "type": "*", "link": 1}],
         "outputs": [], "widgets_values": ["ed"]}], "links": [[1, 1, 0, 2, 0, "INT"]], "version": 0.4}
    code, out, err = invoke(run, write(tmp_path, editor), output_dir=str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "ed_3.txt").exists()
    code, out, _ = invoke(convert, write(tmp_path, editor))
    assert code == 0
    assert json.loads(out) == {"1": {"inputs": {"value": 3}, "class_type": "Const", "_meta": {"title": "Const"}},
                               "2": {"inputs": {"filename_prefix": "ed", "value": ["1", 0]},
                                     "class_type": "SaveText", "_meta": {"title": "SaveText"}}}


def test_invalid_workflow_exits_non_zero_with_readable_errors(tmp_path):
    code, out, err = invoke(run, write(tmp_path, API), output_dir=str(tmp_path), overrides=["1.value=5000"])
    assert code == 1
    assert "node 1 (Const): Value 5000 bigger than max of 1000: value" in err
    assert "Traceback" not in err


def test_bad_inputs_are_named(tmp_path):
    code, _, err = invoke(run, write(tmp_path, API), overrides=["9.value=1"])
    assert code == 1 and "the workflow has no node '9'" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    code, _, err = invoke(run, str(bad))
    assert code == 1 and "bad.json: not valid JSON" in err
    code, _, err = invoke(convert, str(tmp_path / "absent.json"))
    assert code == 1 and "cannot read" in err


def test_node_error_exits_non_zero(tmp_path):
    failing = {"1": {"class_type": "Const", "inputs": {"value": 4}},
               "2": {"class_type": "Fail", "inputs": {"value": ["1", 0], "fail_on": 4}},
               "3": {"class_type": "SaveText", "inputs": {"value": ["2", 0], "filename_prefix": "x"}}}
    code, out, err = invoke(run, write(tmp_path, failing), output_dir=str(tmp_path))
    assert code == 1
    assert "error in node 2 (Fail): RuntimeError: refusing 4" in err


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_per_node_on_a_terminal(tmp_path):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "Steps", "inputs": {"value": ["1", 0], "steps": 4}},
              "3": {"class_type": "SaveText", "inputs": {"value": ["2", 0], "filename_prefix": "bar"}}}
    out, err = io.StringIO(), Terminal()
    code = run(write(tmp_path, prompt), output_dir=str(tmp_path), registry=Registry(), out=out, err=err)
    assert code == 0
    bars = err.getvalue()
    assert "#2 Steps" in bars and "4/4" in bars and "#1 Const" in bars and "#3 SaveText" in bars
