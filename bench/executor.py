"""Executor overheads: validate + plan a 1000-node graph, a fully cached 200-node re-run, cost per trivial node.

Run: .venv/bin/python bench/executor.py. Each number is printed with its target and with a ratio against a
reference measured in the same run (plain Python doing the least the same job needs).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

# this file is named like the package it measures: take bench/ off the path, put the repository first
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from executor.cache import CacheSettings  # noqa: E402
from executor.engine import Executor  # noqa: E402
from executor.validate import validate_prompt  # noqa: E402


class Value:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "min": -10**9, "max": 10**9})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, value):
        return (value,)


class Sum:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"forceInput": True}), "b": ("INT", {"default": 1, "min": -10**9,
                                                                               "max": 10**9})},
                "optional": {"c": ("INT", {"forceInput": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, a, b, c=0):
        return (a + b + c,)


class Show:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True})}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, value):
        return {"ui": {"value": [value]}}


CLASSES = {"Value": Value, "Sum": Sum, "Show": Show}


def graph(size: int, seed: int = 0) -> dict:
    """`size` nodes: a few constants, then sums each linking the previous node and one from further back,
    with an output every 50 nodes and at the end."""
    prompt = {"0": {"class_type": "Value", "inputs": {"value": seed}}}
    for i in range(1, size - 1):
        if i % 50 == 0:
            prompt[str(i)] = {"class_type": "Show", "inputs": {"value": [str(i - 1), 0]}}
            continue
        previous = i - 2 if (i - 1) % 50 == 0 and i > 1 else i - 1  # skip over Show nodes
        inputs = {"a": [str(previous), 0], "b": i}
        far = previous // 2
        if far % 50 and far != previous:
            inputs["c"] = [str(far), 0]
        prompt[str(i)] = {"class_type": "Sum", "inputs": inputs}
    last = size - 3 if (size - 2) % 50 == 0 else size - 2
    prompt[str(size - 1)] = {"class_type": "Show", "inputs": {"value": [str(last), 0]}}
    return prompt


def best_of(function, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def reference_walk(prompt: dict) -> None:
    """The least any planner does: read every node's inputs once and look up its class."""
    for node in prompt.values():
        CLASSES[node["class_type"]].INPUT_TYPES()
        for value in node["inputs"].values():
            if isinstance(value, list):
                prompt[value[0]]


def main() -> None:
    big = graph(1000)

    def validate_and_plan():
        prompt = graph(1000)
        assert validate_prompt(prompt, CLASSES).ok
        Executor(CLASSES).plan(prompt)

    build = best_of(lambda: graph(1000))
    plan_time = best_of(validate_and_plan) - build
    walk = best_of(lambda: reference_walk(big))
    print(f"validate + plan 1000 nodes: {plan_time * 1e3:7.2f} ms   (target <= 50 ms; "
          f"{plan_time / walk:5.1f}x a bare walk over the graph, {walk * 1e3:.2f} ms)")

    medium = graph(200)
    executor = Executor(CLASSES)
    first = executor.execute(graph(200), "warm")
    assert first.success and len(first.ran) == 200

    def cached_run():
        result = executor.execute(graph(200), "again")
        assert result.ran == []

    build200 = best_of(lambda: graph(200))
    cached = best_of(cached_run) - build200
    walk200 = best_of(lambda: reference_walk(medium))
    print(f"fully cached re-run, 200 nodes: {cached * 1e3:7.2f} ms   (target <= 20 ms; "
          f"{cached / walk200:5.1f}x a bare walk, {walk200 * 1e3:.3f} ms)")

    def fresh_run():
        result = Executor(CLASSES, CacheSettings(mode="none")).execute(graph(1000, seed=1), "run")
        assert len(result.ran) == 1000

    def direct_calls():
        instances = {name: cls() for name, cls in CLASSES.items()}
        values = {}
        for node_id, node in graph(1000, seed=1).items():
            kwargs = {k: values[v[0]] if isinstance(v, list) else v for k, v in node["inputs"].items()}
            out = getattr(instances[node["class_type"]], "run")(**kwargs)
            values[node_id] = out[0] if isinstance(out, tuple) and out else None

    executed = best_of(fresh_run, repeat=5)
    direct = best_of(direct_calls, repeat=5)
    per_node = (executed - build) / 1000
    print(f"per executed trivial node: {per_node * 1e6:7.1f} us   (target <= 100 us; "
          f"{executed / direct:5.1f}x calling the functions directly, {direct / 1000 * 1e6:.2f} us/node)")
    samples = [best_of(fresh_run, repeat=1) for _ in range(5)]
    print(f"  (1000-node runs: median {statistics.median(samples) * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
