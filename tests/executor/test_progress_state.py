"""`progress_state` events (spec §2.2): every started node's state, value and ids, sent on each change."""

from __future__ import annotations

import copy


def steps_prompt(steps: int = 3) -> dict:
    return {"1": {"class_type": "Const", "inputs": {"value": 1}},
            "2": {"class_type": "Steps", "inputs": {"value": ["1", 0], "steps": steps}},
            "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}},
            "9": {"class_type": "Const", "inputs": {"value": 99}}}  # needed by no output: never appears


def _recording(recorder) -> list[tuple[str, dict]]:
    """Events as they were when sent (a later change must not reach an event already handed out)."""
    frozen: list[tuple[str, dict]] = []
    recorder.executor.emit = lambda event, data: frozen.append((event, copy.deepcopy(data)))
    return frozen


def _states(events: list, node: str) -> list[tuple]:
    """The successive (state, value, max) of one node (later events repeat it unchanged)."""
    seen: list[tuple] = []
    for event, data in events:
        entry = data["nodes"].get(node) if event == "progress_state" else None
        if entry is not None and (not seen or seen[-1] != (entry["state"], entry["value"], entry["max"])):
            seen.append((entry["state"], entry["value"], entry["max"]))
    return seen


def test_a_node_is_running_before_executing_and_finished_after(recorder):
    sent = _recording(recorder)
    live = []
    recorder.executor.emit = lambda event, data: (sent.append((event, copy.deepcopy(data))), live.append((event, data)))
    recorder.run(steps_prompt(), "pp")
    names = [e for e, _ in sent]
    executing_2 = next(i for i, (e, d) in enumerate(sent) if e == "executing" and d["node"] == "2")
    assert names[executing_2 - 1] == "progress_state"
    assert sent[executing_2 - 1][1]["nodes"]["2"]["state"] == "running"
    # each step: the state (value/max) first, then the classic progress event
    for step in (1, 2, 3):
        at = next(i for i, (e, d) in enumerate(sent) if e == "progress" and d["value"] == step)
        assert sent[at - 1][0] == "progress_state"
        assert sent[at - 1][1]["nodes"]["2"] == {
            "value": step, "max": 3, "state": "running", "node_id": "2", "prompt_id": "pp",
            "display_node_id": "2", "parent_node_id": None, "real_node_id": "2"}
    assert _states(sent, "2") == [("running", 0.0, 1.0), ("running", 1, 3), ("running", 2, 3),
                                  ("running", 3, 3), ("finished", 3, 3)]
    # the output's `executed` comes before its finished state, and the last event lists every node that ran
    executed_3 = names.index("executed")
    assert sent[executed_3 + 1][0] == "progress_state"
    assert sent[executed_3 + 1][1]["nodes"]["3"]["state"] == "finished"
    last = [d for e, d in sent if e == "progress_state"][-1]
    assert last["prompt_id"] == "pp"
    assert {n: s["state"] for n, s in last["nodes"].items()} == {"1": "finished", "2": "finished", "3": "finished"}
    # what was handed to emit is never changed afterwards (the server serializes it later, on another thread)
    assert [d for e, d in live if e == "progress_state"] == [d for e, d in sent if e == "progress_state"]


def test_nodes_that_have_not_started_are_left_out(recorder):
    sent = _recording(recorder)
    recorder.run(steps_prompt())
    first = next(d for e, d in sent if e == "progress_state")
    assert list(first["nodes"]) == ["1"]
    assert all("9" not in d["nodes"] for e, d in sent if e == "progress_state")


def test_cached_outputs_only_finish(recorder):
    recorder.run(steps_prompt())
    sent = _recording(recorder)
    recorder.run(steps_prompt(), "again")
    states = [d for e, d in sent if e == "progress_state"]
    assert states and all(s["state"] == "finished" for d in states for s in d["nodes"].values())
    assert set(states[-1]["nodes"]) == {"3"}  # the output is reached by the scheduler; its producers are not
    executed = [e for e, _ in sent].index("executed")
    assert sent[executed + 1][0] == "progress_state"


def test_expanded_nodes_carry_their_parent_display_and_real_ids(recorder):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 5}},
              "2": {"class_type": "AddViaExpansion", "inputs": {"a": ["1", 0], "b": 3}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    sent = _recording(recorder)
    assert recorder.run(prompt).success
    last = [d for e, d in sent if e == "progress_state"][-1]["nodes"]
    assert last["2.0.0.2"] == {"value": 1.0, "max": 1.0, "state": "finished", "node_id": "2.0.0.2",
                               "prompt_id": "p", "display_node_id": "2", "parent_node_id": "2",
                               "real_node_id": "2"}
    # the expanding node finishes only once its expansion's result is there
    order = [(n, s["state"]) for e, d in sent if e == "progress_state" for n, s in d["nodes"].items()]
    assert order.index(("2.0.0.2", "finished")) < order.index(("2", "finished"))


def test_a_failing_node_stays_running(recorder):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 4}},
              "2": {"class_type": "Fail", "inputs": {"value": ["1", 0], "fail_on": 4}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    sent = _recording(recorder)
    assert not recorder.run(prompt).success
    assert _states(sent, "2") == [("running", 0.0, 1.0)]
