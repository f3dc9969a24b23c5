"""A ComfyUI-style pack, loaded from custom_nodes, runs unmodified through the executor (spec §5, §6)."""

import shutil
from pathlib import Path

import pytest

from executor.engine import Executor
from executor.validate import validate_prompt

PACK = Path(__file__).parent / "packs" / "comfy_style"


class Runner:
    """Validates and runs API prompts against a registry, recording the executor's events."""

    def __init__(self, registry):
        self.registry = registry
        self.events: list[tuple[str, dict]] = []
        self.executor = Executor(registry.classes, emit=lambda event, data: self.events.append((event, data)))

    def validate(self, prompt: dict):
        return validate_prompt(prompt, self.registry.classes)

    def run(self, prompt: dict):
        verdict = self.validate(prompt)
        assert verdict.ok, (verdict.error, verdict.node_errors)
        self.events.clear()
        return self.executor.execute(prompt, "prompt-1", execute_outputs=verdict.outputs)

    def shown(self, result, node_id: str = "out") -> list[str]:
        assert result.success, result.error
        return result.outputs[node_id]["text"]


@pytest.fixture
def runner(load, custom_nodes, base_dir, registry):
    (base_dir / "models" / "test_styles").mkdir(parents=True)
    (base_dir / "models" / "test_styles" / "ink.txt").write_text("black ink\n")
    shutil.copytree(PACK, custom_nodes / "comfy_style")
    report = load().reports["comfy_style"]
    assert report.status == "loaded", report.traceback
    return Runner(registry)


def show(link: list) -> dict:
    return {"out": {"class_type": "TestShow", "inputs": {"value": link}}}


def test_the_pack_registers_everything_with_its_python_module(runner, registry):
    report = registry.plugins.reports["comfy_style"]
    assert set(report.nodes) >= {"TestInt", "TestLazySwitch", "TestCountdown", "TestStyleFile"}
    info = registry.object_info("TestStyleFile")["TestStyleFile"]
    assert info["input"]["required"]["style"] == [["ink.txt"]]
    assert info["python_module"] == "custom_nodes.comfy_style"
    assert registry.object_info("TestShow")["TestShow"]["display_name"] == "Show Anything"
    assert report.routes == ["GET /comfy_style/echo", "POST /comfy_style/notify", "POST /comfy_style/progress_text"]


def test_values_flow_between_pack_nodes(runner):
    result = runner.run({"1": {"class_type": "TestInt", "inputs": {"value": 40}},
                         "2": {"class_type": "TestAdd", "inputs": {"a": ["1", 0], "b": 2}}, **show(["2", 0])})
    assert runner.shown(result) == ["42"]


def test_lazy_inputs_evaluate_only_the_branch_asked_for(runner):
    prompt = {"boom": {"class_type": "TestExplode", "inputs": {"value": 1}},
              "ok": {"class_type": "TestInt", "inputs": {"value": 5}},
              "s": {"class_type": "TestLazySwitch", "inputs": {"pick_b": False, "a": ["ok", 0], "b": ["boom", 0]}},
              **show(["s", 0])}
    result = runner.run(prompt)
    assert runner.shown(result) == ["5"] and "boom" not in result.ran


def test_list_outputs_map_over_normal_nodes_and_collect_into_list_inputs(runner):
    prompt = {"1": {"class_type": "TestSplitWords", "inputs": {"text": "red green blue"}},
              "2": {"class_type": "TestUpper", "inputs": {"text": ["1", 0]}},
              "3": {"class_type": "TestJoinWords", "inputs": {"words": ["2", 0], "separator": "+"}},
              **show(["3", 0])}
    assert runner.shown(runner.run(prompt)) == ["RED+GREEN+BLUE"]


def test_expansion_through_graph_builder(runner):
    prompt = {"1": {"class_type": "TestRepeatAdd", "inputs": {"value": 10, "step": 5, "times": 3}}, **show(["1", 0])}
    result = runner.run(prompt)
    assert runner.shown(result) == ["25"]
    assert sum(1 for node in result.ran if node.startswith("1.")) == 3


def test_a_loop_built_by_expansion(runner):
    prompt = {"1": {"class_type": "TestCountdown", "inputs": {"value": 0, "step": 7, "remaining": 4}},
              **show(["1", 0])}
    assert runner.shown(runner.run(prompt)) == ["28"]


def test_a_while_loop_copies_its_body_from_the_live_prompt(runner):
    prompt = {"open": {"class_type": "TestWhileOpen", "inputs": {"value": 0}},
              "add": {"class_type": "TestAdd", "inputs": {"a": ["open", 1], "b": 3}},
              "less": {"class_type": "TestLessThan", "inputs": {"a": ["add", 0], "b": 10}},
              "close": {"class_type": "TestWhileClose", "inputs": {"flow": ["open", 0], "condition": ["less", 0],
                                                                    "value": ["add", 0]}},
              **show(["close", 0])}
    result = runner.run(prompt)
    assert runner.shown(result) == ["12"]  # 3, 6, 9 loop again; 12 is not below 10
    assert sum(1 for node in result.ran if node.endswith(".add")) == 3, "the body ran once per extra iteration"


def test_progress_bar_events_carry_the_node(runner):
    result = runner.run({"1": {"class_type": "TestCountSteps", "inputs": {"steps": 3}}, **show(["1", 0])})
    steps = [(d["node"], d["value"], d["max"]) for e, d in runner.events if e == "progress"]
    assert runner.shown(result) == ["3"] and steps == [("1", 1, 3), ("1", 2, 3), ("1", 3, 3)]


def test_an_interrupt_inside_a_pack_node_stops_the_prompt(runner):
    class InterruptAtFirstStep:
        def __call__(self, event, data):
            if event == "progress":
                runner.executor.interrupt()
    runner.executor.emit = InterruptAtFirstStep()
    result = runner.run({"1": {"class_type": "TestCountSteps", "inputs": {"steps": 50}}, **show(["1", 0])})
    assert not result.success and result.interrupted


def test_folder_paths_resolve_a_file_the_pack_lists(runner):
    result = runner.run({"1": {"class_type": "TestStyleFile", "inputs": {"style": "ink.txt"}}, **show(["1", 0])})
    assert runner.shown(result) == ["black ink"]


def test_async_node_functions_are_awaited(runner):
    prompt = {"1": {"class_type": "TestAsyncDouble", "inputs": {"value": 4}},
              "2": {"class_type": "TestAsyncDouble", "inputs": {"value": ["1", 0]}}, **show(["2", 0])}
    assert runner.shown(runner.run(prompt)) == ["16"]


def test_validate_inputs_with_input_types_decides_type_compatibility(runner):
    words = {"1": {"class_type": "TestSplitWords", "inputs": {"text": "x"}},
             "2": {"class_type": "TestToText", "inputs": {"value": ["1", 0]}}, **show(["2", 0])}
    assert runner.shown(runner.run(words)) == ["<x>"], "a STRING link into an INT input is allowed by the node"

    class ModelSource:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}
        RETURN_TYPES = ("MODEL",)
        FUNCTION = "run"
    runner.registry.classes["ModelSource"] = ModelSource
    verdict = runner.validate({"1": {"class_type": "ModelSource", "inputs": {}},
                               "2": {"class_type": "TestToText", "inputs": {"value": ["1", 0]}}, **show(["2", 0])})
    errors = verdict.node_errors["2"]["errors"]
    assert errors[0]["type"] == "custom_validation_failed" and "cannot be a MODEL" in errors[0]["details"]


def test_a_blocker_from_a_pack_stops_downstream_nodes_only(runner):
    prompt = {"1": {"class_type": "TestInt", "inputs": {"value": 3}},
              "g": {"class_type": "TestGate", "inputs": {"value": ["1", 0], "open": False}},
              "2": {"class_type": "TestAdd", "inputs": {"a": ["g", 0], "b": 1}}, **show(["2", 0])}
    result = runner.run(prompt)
    assert result.success and "out" not in result.outputs, "the blocked output node shows nothing"


def test_a_node_raising_at_run_time_reports_node_class_and_message(runner):
    prompt = {"1": {"class_type": "TestInt", "inputs": {"value": 9}},
              "2": {"class_type": "TestExplode", "inputs": {"value": ["1", 0]}}, **show(["2", 0])}
    result = runner.run(prompt)
    assert not result.success
    error = next(d for e, d in runner.events if e == "execution_error")
    assert (error["node_id"], error["node_type"]) == ("2", "TestExplode")
    assert error["exception_type"] == "RuntimeError" and error["exception_message"] == "kaboom at 9"
    assert any("value_nodes.py" in line for line in error["traceback"])
    assert "1" in result.ran, "work before the error stays done (and cached)"


def test_a_reloaded_node_class_gets_a_fresh_instance(runner, registry, custom_nodes):
    prompt = {"1": {"class_type": "TestInt", "inputs": {"value": 1}}, **show(["1", 0])}
    runner.run(prompt)
    source = custom_nodes / "comfy_style" / "value_nodes.py"
    source.write_text(source.read_text().replace("return (value,)", "return (value + 100,)", 1))
    assert registry.plugins.reload("comfy_style").status == "loaded"
    runner.executor.cache.clear()  # the reload route also empties the cache: results of the old code must go
    assert runner.shown(runner.run(prompt)) == ["101"]

