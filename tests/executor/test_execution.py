"""Execution: what runs, events, caching across prompts, lists, lazy inputs, expansion, async, interrupt,
blockers, errors and resuming after an error."""

from __future__ import annotations

import threading
import time

import pytest

from tests.executor import testnodes


def chain(value: int = 1, b: int = 10) -> dict:
    """Const -> Add -> Output, plus a second branch Const -> Output."""
    return {
        "1": {"class_type": "Const", "inputs": {"value": value}},
        "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": b}},
        "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}},
        "4": {"class_type": "Const", "inputs": {"value": 7}},
        "5": {"class_type": "Output", "inputs": {"value": ["4", 0]}},
    }


def test_runs_outputs_and_reports_ui_and_events(recorder):
    result = recorder.run(chain(), "prompt-1")
    assert result.success
    assert result.outputs == {"3": {"values": [11]}, "5": {"values": [7]}}
    assert sorted(result.ran) == ["1", "2", "3", "4", "5"]
    names = [name for name, _ in recorder.events]
    assert names[0] == "execution_start" and names[1] == "execution_cached" and names[-1] == "execution_success"
    executing = recorder.of("executing")
    assert {e["node"] for e in executing} == {"1", "2", "3", "4", "5"}
    assert all(e["prompt_id"] == "prompt-1" and e["display_node"] == e["node"] for e in executing)
    executed = recorder.of("executed")
    assert {e["node"]: e["output"] for e in executed} == {"3": {"values": [11]}, "5": {"values": [7]}}
    assert [m[0] for m in result.messages] == ["execution_start", "execution_cached", "execution_success"]
    assert all("timestamp" in m[1] for m in result.messages)
    assert result.meta["3"] == {"node_id": "3", "display_node": "3", "parent_node": None, "real_node_id": "3"}


def test_nodes_not_needed_by_an_output_never_run(recorder):
    prompt = chain()
    prompt["9"] = {"class_type": "Const", "inputs": {"value": 99}}
    result = recorder.run(prompt)
    assert "9" not in result.ran


def test_execute_outputs_limits_what_runs(recorder):
    result = recorder.run(chain(), execute_outputs=["5"])
    assert sorted(result.ran) == ["4", "5"]


def test_identical_prompt_reruns_nothing(recorder):
    recorder.run(chain())
    result = recorder.run(chain())
    assert result.ran == []
    assert sorted(result.cached) == ["2", "3", "4", "5"]  # 1 is not even looked at: 2 is cached
    cached_event = recorder.of("execution_cached")[0]
    assert sorted(cached_event["nodes"]) == ["1", "2", "3", "4", "5"]
    assert recorder.of("executing") == []
    # cached outputs are still reported, with their UI
    assert {e["node"]: e["output"] for e in recorder.of("executed")} == {"3": {"values": [11]},
                                                                         "5": {"values": [7]}}
    assert result.outputs["3"] == {"values": [11]}
    assert result.cache_stats["ran"] == 0 and result.cache_stats["entries"] >= 5


def test_changed_widget_reruns_only_its_branch(recorder):
    recorder.run(chain(b=10))
    result = recorder.run(chain(b=20))
    assert sorted(result.ran) == ["2", "3"]
    assert result.outputs["3"] == {"values": [21]}


def test_node_ids_do_not_matter_for_the_cache(recorder):
    recorder.run(chain())
    renamed = {f"n{k}": {**v, "inputs": {name: ([f"n{x[0]}", x[1]] if isinstance(x, list) else x)
                                         for name, x in v["inputs"].items()}} for k, v in chain().items()}
    # only the outputs re-run: they declare a hidden UNIQUE_ID, which makes the id part of their signature
    assert sorted(recorder.run(renamed).ran) == ["n3", "n5"]


@pytest.mark.parametrize("mode, third_run", [("budget", []), ("classic", ["2", "3"]), ("lru", []),
                                             ("none", ["1", "2", "3", "4", "5"])])
def test_alternating_two_prompts(make_recorder, mode, third_run):
    recorder = make_recorder(mode, lru_size=100)
    recorder.run(chain(b=10))
    second = recorder.run(chain(b=20))
    third = recorder.run(chain(b=10))
    fourth = recorder.run(chain(b=20))
    if mode != "none":
        assert sorted(second.ran) == ["2", "3"]
    assert sorted(third.ran) == third_run
    assert sorted(fourth.ran) == third_run


def test_lru_mode_keeps_only_n_entries(make_recorder):
    recorder = make_recorder("lru", lru_size=3)
    for value in range(4):
        recorder.run(chain(value=value))
    assert len(recorder.executor.cache.entries) <= 5 + 3  # the running prompt's entries are never evicted
    assert recorder.run(chain(value=0)).ran  # the oldest prompt's results are gone


def test_budget_mode_drops_oldest_over_cpu_budget(make_recorder):
    recorder = make_recorder("budget", cpu_budget_bytes=0)
    recorder.run(chain())
    assert recorder.executor.cache.entries == {}
    assert sorted(recorder.run(chain()).ran) == ["1", "2", "3", "4", "5"]


def test_is_changed_forces_rerun(recorder):
    prompt = {"1": {"class_type": "Tick", "inputs": {"value": 1}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    testnodes.Tick.counter = 0
    recorder.run(prompt)
    assert recorder.run(prompt).ran == []
    testnodes.Tick.counter = 5
    result = recorder.run(prompt)
    assert sorted(result.ran) == ["1", "2"]
    assert result.outputs["2"] == {"values": [6]}
    assert prompt["1"]["is_changed"] == [5]


def test_node_instances_are_reused_per_node_id(recorder):
    prompt = {"1": {"class_type": "Instance", "inputs": {"value": 1}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    recorder.run(prompt)
    prompt["1"]["inputs"]["value"] = 2
    assert recorder.run(prompt).outputs["2"] == {"values": [2]}  # second call on the same instance


def test_hidden_inputs(recorder):
    prompt = chain()
    recorder.run(prompt)
    output_calls = [kw for name, kw in testnodes.CALLS if name == "Output"]
    assert sorted(kw["unique_id"] for kw in output_calls) == ["3", "5"]


def test_lists_map_over_items_and_input_is_list_gets_all(recorder):
    prompt = {
        "1": {"class_type": "Range", "inputs": {"count": 4}},
        "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 10}},
        "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}},
        "4": {"class_type": "SumList", "inputs": {"values": ["2", 0]}},
        "5": {"class_type": "Output", "inputs": {"value": ["4", 0]}},
    }
    result = recorder.run(prompt)
    assert result.outputs["3"] == {"values": [10, 11, 12, 13]}
    assert result.outputs["5"] == {"values": [46]}
    assert [kw for name, kw in testnodes.CALLS if name == "Add"] == [{"a": i, "b": 10} for i in range(4)]


def test_lazy_input_evaluates_only_the_needed_branch(recorder):
    prompt = {
        "1": {"class_type": "Const", "inputs": {"value": 1}},
        "2": {"class_type": "Const", "inputs": {"value": 2}},
        "3": {"class_type": "LazySwitch", "inputs": {"pick_first": False, "first": ["1", 0], "second": ["2", 0]}},
        "4": {"class_type": "Output", "inputs": {"value": ["3", 0]}},
    }
    result = recorder.run(prompt)
    assert result.outputs["4"] == {"values": [2]}
    assert "1" not in result.ran and "2" in result.ran


def test_expansion_runs_the_expanded_graph_with_deterministic_ids(recorder):
    prompt = {
        "1": {"class_type": "Const", "inputs": {"value": 5}},
        "2": {"class_type": "AddViaExpansion", "inputs": {"a": ["1", 0], "b": 3}},
        "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}},
    }
    result = recorder.run(prompt)
    assert result.outputs["3"] == {"values": [8]}
    assert "2.0.0.2" in result.ran
    assert "2.0.0.1" in result.cached  # Const(5) inside the expansion is the same as node 1: a cache hit
    executing = {e["node"]: e["display_node"] for e in recorder.of("executing")}
    assert executing["2.0.0.2"] == "2"


def test_loop_built_by_expansion(recorder):
    prompt = {
        "1": {"class_type": "Const", "inputs": {"value": 10}},
        "2": {"class_type": "CountUp", "inputs": {"value": ["1", 0], "times": 4, "step": 5}},
        "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}},
    }
    result = recorder.run(prompt)
    assert result.outputs["3"] == {"values": [30]}
    rounds = [kw["times"] for name, kw in testnodes.CALLS if name == "CountUp"]
    assert rounds == [4, 3, 2, 1, 0]
    # a repeated run is served from the cache entirely
    assert recorder.run(prompt).ran == []


def test_async_nodes_overlap(recorder):
    prompt = {}
    for i in range(4):
        prompt[f"s{i}"] = {"class_type": "AsyncSleep", "inputs": {"value": i, "seconds": 0.3}}
        prompt[f"o{i}"] = {"class_type": "Output", "inputs": {"value": [f"s{i}", 0]}}
    start = time.perf_counter()
    result = recorder.run(prompt)
    elapsed = time.perf_counter() - start
    assert result.success
    assert {k: v["values"] for k, v in result.outputs.items()} == {f"o{i}": [i] for i in range(4)}
    assert elapsed < 0.9, f"four 0.3 s sleeps took {elapsed:.2f} s: they did not overlap"
    assert {e["node"] for e in recorder.of("progress")} == {f"s{i}" for i in range(4)}


def test_progress_events_from_a_node(recorder):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "Steps", "inputs": {"value": ["1", 0], "steps": 3}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    recorder.run(prompt, "pp")
    assert [(e["value"], e["max"], e["node"], e["prompt_id"]) for e in recorder.of("progress")] == \
        [(1, 3, "2", "pp"), (2, 3, "2", "pp"), (3, 3, "2", "pp")]


def test_interrupt_between_nodes(recorder):
    recorder.executor.emit = lambda event, data: (recorder.events.append((event, data)),
                                                  event == "executing" and data["node"] == "2"
                                                  and recorder.executor.interrupt())
    prompt = chain()
    result = recorder.run(prompt, execute_outputs=["3"])
    assert not result.success and result.interrupted
    assert "3" not in result.ran
    interrupted = recorder.of("execution_interrupted")
    assert len(interrupted) == 1 and interrupted[0]["prompt_id"] == "p"
    assert result.messages[-1][0] == "execution_interrupted"


def test_interrupt_inside_a_node_through_progress(recorder):
    testnodes.Steps.started, testnodes.Steps.gate = threading.Event(), threading.Event()
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "Steps", "inputs": {"value": ["1", 0], "steps": 5}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}

    def interrupt_when_started():
        testnodes.Steps.started.wait(5)
        recorder.executor.interrupt()
        testnodes.Steps.gate.set()

    helper = threading.Thread(target=interrupt_when_started)
    helper.start()
    try:
        result = recorder.run(prompt)
    finally:
        helper.join()
        testnodes.Steps.started = testnodes.Steps.gate = None
    assert result.interrupted and not result.success
    assert recorder.of("execution_interrupted")[0]["node_id"] == "2"
    assert [e["value"] for e in recorder.of("progress")] == [1]
    # the flag was consumed: the next prompt runs normally and resumes after the cached Const
    again = recorder.run(prompt)
    assert again.success and sorted(again.ran) == ["2", "3"]


def test_blocker_stops_downstream_and_reports_its_message_once(recorder):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "Gate", "inputs": {"value": ["1", 0], "block": True, "message": "no way"}},
              "3": {"class_type": "Add", "inputs": {"a": ["2", 0], "b": 1}},
              "4": {"class_type": "Output", "inputs": {"value": ["3", 0]}},
              "5": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    result = recorder.run(prompt)
    assert result.success
    assert "4" not in result.outputs and result.outputs["5"] == {"values": [1]}
    assert not [kw for name, kw in testnodes.CALLS if name in ("Add",)]
    errors = recorder.of("execution_error")
    assert len(errors) == 1
    assert errors[0]["exception_type"] == "ExecutionBlocked"
    assert errors[0]["exception_message"] == "Execution Blocked: no way"
    assert errors[0]["node_id"] == "3"
    assert recorder.events[-1][0] == "execution_success"


def test_error_stops_the_prompt_and_resume_reuses_earlier_results(recorder):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 3}},
              "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 1}},
              "3": {"class_type": "Fail", "inputs": {"value": ["2", 0], "fail_on": 4}},
              "4": {"class_type": "Output", "inputs": {"value": ["3", 0]}}}
    result = recorder.run(prompt, "err")
    assert not result.success and not result.interrupted
    error = recorder.of("execution_error")[0]
    assert error["node_id"] == "3" and error["node_type"] == "Fail"
    assert error["exception_type"] == "RuntimeError" and error["exception_message"] == "refusing 4"
    assert error["current_inputs"] == {"value": [4], "fail_on": [4]}
    assert any("refusing" in line or "raise" in line for line in error["traceback"])
    assert sorted(error["executed"]) == ["1", "2"]
    assert result.messages[-1][0] == "execution_error" and result.error["node_id"] == "3"
    prompt["3"]["inputs"]["fail_on"] = -1
    again = recorder.run(prompt)
    assert again.success and sorted(again.ran) == ["3", "4"]


def test_raw_link_and_dynprompt(recorder):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "Describe", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    assert recorder.run(prompt).outputs["3"] == {"values": ["2 <- Const#0"]}


def test_expansion_into_a_cycle_is_a_dependency_cycle_error(recorder):
    prompt = {"1": {"class_type": "BadExpansion", "inputs": {"kind": "cycle"}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    result = recorder.run(prompt)
    assert not result.success
    assert result.error["exception_type"] == "graph.DependencyCycleError"
    assert result.error["exception_message"] == "Dependency cycle detected"
    assert result.error["node_id"] in ("x", "y")  # expanded nodes display as their parent
    assert recorder.executor.plan(prompt) == ["2", "1"]


def test_expansion_with_a_duplicate_id_fails_the_node(recorder):
    prompt = {"1": {"class_type": "BadExpansion", "inputs": {"kind": "duplicate"}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    result = recorder.run(prompt)
    assert result.error["exception_type"].endswith("DuplicateNodeError")
    assert "Attempt to add duplicate node 1" in result.error["exception_message"]


def test_async_failure_is_the_nodes_error(recorder):
    prompt = {"1": {"class_type": "AsyncFail", "inputs": {"value": 3}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    result = recorder.run(prompt)
    assert result.error["node_id"] == "1" and result.error["exception_message"] == "async failure 3"


def test_classes_may_change_between_prompts(recorder):
    prompt = chain()
    recorder.run(prompt)

    class Const2(testnodes.Const):
        def run(self, value):
            return (value * 100,)

    classes = recorder.executor.classes = dict(testnodes.NODE_CLASS_MAPPINGS)
    classes["Const"] = Const2  # a plugin reload: new class object, same name
    result = recorder.run(prompt)
    assert result.outputs["3"] == {"values": [110]} and "1" in result.ran


def test_while_loop_copies_its_body_by_expansion(recorder):
    """The pattern of ComfyUI's while-loop nodes: the closing node expands into the body plus a copy of itself."""
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 0}},
              "2": {"class_type": "LoopOpen", "inputs": {"value": ["1", 0], "remaining": 3}},
              "3": {"class_type": "Add", "inputs": {"a": ["2", 1], "b": 2}},
              "4": {"class_type": "LoopClose", "inputs": {"flow_control": ["2", 0], "value": ["3", 0],
                                                           "remaining": ["2", 2]}},
              "5": {"class_type": "Output", "inputs": {"value": ["4", 0]}}}
    result = recorder.run(prompt)
    assert result.outputs["5"] == {"values": [8]}  # 0 + 2, then three more rounds of + 2
    assert [kw["remaining"] for name, kw in testnodes.CALLS if name == "LoopClose"] == [3, 2, 1, 0]
    # every expanded node is shown on the node it copies
    assert {e["display_node"] for e in recorder.of("executing")} == {"1", "2", "3", "4", "5"}
    assert recorder.run(prompt).ran == []
    prompt["3"]["inputs"]["b"] = 5
    assert recorder.run(prompt).outputs["5"] == {"values": [20]}


def test_blocking_is_per_list_item(recorder):
    prompt = {"1": {"class_type": "Range", "inputs": {"count": 5}},
              "2": {"class_type": "BlockOdd", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Add", "inputs": {"a": ["2", 0], "b": 100}},
              "4": {"class_type": "Output", "inputs": {"value": ["3", 0]}},
              "5": {"class_type": "SumList", "inputs": {"values": ["2", 0]}},
              "6": {"class_type": "Output", "inputs": {"value": ["5", 0]}}}
    result = recorder.run(prompt)
    assert result.success
    assert result.outputs["4"] == {"values": [100, 102, 104]}
    assert [kw["a"] for name, kw in testnodes.CALLS if name == "Add"] == [0, 2, 4]
    assert "6" not in result.outputs  # a list-consuming node is blocked by any blocked item
    assert recorder.of("execution_error") == []  # blockers without a message stay silent


def test_interrupt_reaches_async_nodes(recorder):
    prompt = {"1": {"class_type": "AsyncSleep", "inputs": {"value": 1, "seconds": 0.2}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    timer = threading.Timer(0.05, recorder.executor.interrupt)
    timer.start()
    result = recorder.run(prompt)
    timer.join()
    assert result.interrupted  # raised by progress.report inside the task


def test_previews_name_the_node_and_where_it_came_from(recorder):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 4}},
              "2": {"class_type": "PreviewViaExpansion", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    recorder.run(prompt, "prev")
    preview = recorder.of("preview_image")[0]
    assert preview == {"prompt_id": "prev", "node": "2.0.0.1", "display_node": "2", "format": "JPEG",
                       "image": "image 4", "max_size": 512, "parent_node": "2", "real_node_id": "2"}


def test_unvalidated_prompt_with_unknown_parts_fails_cleanly(recorder):
    result = recorder.run({"1": {"class_type": "Nope", "inputs": {}},
                           "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}})
    assert not result.success and "cannot plan node 2" in result.error["exception_message"]
    result = recorder.run({"2": {"class_type": "Output", "inputs": {"value": ["9", 0]}}})
    assert not result.success and result.error["node_id"] == "2"


async def test_a_failed_prompt_cancels_async_nodes_still_running(recorder):
    import asyncio

    prompt = {"1": {"class_type": "AsyncFail", "inputs": {"value": 1}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "AsyncSleep", "inputs": {"value": 2, "seconds": 5}},
              "4": {"class_type": "Output", "inputs": {"value": ["3", 0]}}}
    result = await recorder.executor.execute_async(prompt, "p")  # inside a running loop
    assert not result.success
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
