"""KSampler run by the executor: per-step progress and previews reach the executor's events, interrupts stop it."""

import torch
from sampling_fakes import FakeModel, cond

import nodes
from executor.cache import CacheSettings
from executor.engine import Executor
from executor.validate import validate_prompt

STEPS = 3


class FakeInputs:
    """Hands the stand-in model, conditioning and an empty latent to the graph."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING", "LATENT")
    FUNCTION = "run"

    def run(self):
        return FakeModel(), cond(0.2), cond(-0.2), {"samples": torch.zeros(1, 4, 8, 8)}


class Sink:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, samples):
        return {"ui": {"shape": list(samples["samples"].shape)}}


PROMPT = {"1": {"class_type": "FakeInputs", "inputs": {}},
          "2": {"class_type": "KSampler", "inputs": {
              "model": ["1", 0], "seed": 5, "steps": STEPS, "cfg": 4.0, "sampler_name": "dpmpp_2m",
              "scheduler": "karras", "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["1", 3],
              "denoise": 1.0}},
          "3": {"class_type": "Sink", "inputs": {"samples": ["2", 0]}}}


def _run(events, interrupt_after=None):
    classes = {**nodes.NODE_CLASS_MAPPINGS, "FakeInputs": FakeInputs, "Sink": Sink}
    checked = validate_prompt(PROMPT, classes)
    assert checked.ok, checked.error
    executor = None

    def emit(event, data):
        events.append((event, data))
        if interrupt_after is not None and event == "progress" and data["value"] == interrupt_after:
            executor.interrupt()
    executor = Executor(classes, CacheSettings(), emit=emit)
    return executor.execute(PROMPT, "p1", extra_data={}, execute_outputs=checked.outputs)


def test_progress_and_previews_of_every_step_come_from_the_sampler_node():
    events = []
    result = _run(events)
    assert result.success
    progress = [d for e, d in events if e == "progress"]
    assert [(d["node"], d["value"], d["max"]) for d in progress] == [("2", i, STEPS) for i in range(1, STEPS + 1)]
    previews = [d for e, d in events if e == "preview_image"]
    assert len(previews) == STEPS and all(d["node"] == "2" for d in previews)


def test_an_interrupt_during_sampling_stops_the_prompt():
    events = []
    result = _run(events, interrupt_after=1)
    assert not result.success
    assert [d["value"] for e, d in events if e == "progress"] == [1]
    assert any(m[0] == "execution_interrupted" for m in result.messages)
