"""Pure-Python node classes that exercise every part of the node protocol (no torch)."""

from __future__ import annotations

import asyncio
import threading

from executor import progress
from executor.blocker import ExecutionBlocker
from executor.graph_builder import GraphBuilder

CALLS: list[tuple[str, dict]] = []  # (class name, kwargs) of every FUNCTION call, for tests to inspect


def record(cls_name: str, **kwargs) -> None:
    CALLS.append((cls_name, kwargs))


class Const:
    """An integer constant."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "min": -1000, "max": 1000})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "test"

    def run(self, value):
        record("Const", value=value)
        return (value,)


class Add:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"forceInput": True}), "b": ("INT", {"default": 1})}}

    RETURN_TYPES = ("INT",)
    RETURN_NAMES = ("sum",)
    FUNCTION = "run"

    def run(self, a, b):
        record("Add", a=a, b=b)
        return (a + b,)


class Text:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"multiline": True}),
                             "mode": (["plain", "upper"],)},
                "optional": {"flag": ("BOOLEAN", {"default": False}), "scale": ("FLOAT", {"default": 1.0,
                                                                                       "min": 0.0, "max": 2.0})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self, text, mode, flag=False, scale=1.0):
        record("Text", text=text)
        return (text.upper() if mode == "upper" else text,)


class Output:
    """An output node that shows its value."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}, "hidden": {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, value, prompt=None, unique_id=None):
        record("Output", value=value, unique_id=unique_id)
        return {"ui": {"values": [value]}}


class IntOutput(Output):
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True})}}


class _LinkedInt:
    """The declaration shared by the nodes below that take one linked INT and return an INT through `run`."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"


class Fail:
    """Raises when `value` equals `fail_on`."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True}), "fail_on": ("INT", {"default": -1})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, value, fail_on):
        record("Fail", value=value)
        if value == fail_on:
            raise RuntimeError(f"refusing {value}")
        return (value,)


class LazySwitch:
    """Evaluates only the branch it picks."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pick_first": ("BOOLEAN", {"default": True}),
                             "first": ("INT", {"lazy": True, "forceInput": True}),
                             "second": ("INT", {"lazy": True, "forceInput": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def check_lazy_status(self, pick_first, first=None, second=None):
        wanted = "first" if pick_first else "second"
        return [wanted] if (first if pick_first else second) is None else []

    def run(self, pick_first, first=None, second=None):
        record("LazySwitch", first=first, second=second)
        return (first if pick_first else second,)


class Range:
    """A list output: 0..count-1 as separate items."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"count": ("INT", {"default": 3, "min": 0, "max": 100})}}

    RETURN_TYPES = ("INT",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "run"

    def run(self, count):
        record("Range", count=count)
        return (list(range(count)),)


class SumList:
    """Consumes a whole list at once."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"values": ("INT", {"forceInput": True})}}

    RETURN_TYPES = ("INT",)
    INPUT_IS_LIST = True
    FUNCTION = "run"

    def run(self, values):
        record("SumList", values=values)
        return (sum(values),)


class AsyncSleep:
    """Sleeps without blocking the loop, then returns its value."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0}), "seconds": ("FLOAT", {"default": 0.2})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    async def run(self, value, seconds):
        record("AsyncSleep", value=value)
        await asyncio.sleep(seconds)
        progress.report(1, 1)
        return (value,)


class Steps:
    """Reports progress for each of `steps` steps; waits on `gate` (if set) before each step after the first."""

    gate: threading.Event | None = None
    started: threading.Event | None = None

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True}), "steps": ("INT", {"default": 3})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, value, steps):
        record("Steps", value=value)
        for step in range(steps):
            if step == 1 and Steps.started is not None:
                Steps.started.set()
                Steps.gate.wait(5)
            progress.report(step + 1, steps)
        return (value,)


class Gate:
    """Blocks everything downstream when `block` is true."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True}), "block": ("BOOLEAN", {"default": False}),
                             "message": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, value, block, message):
        record("Gate", value=value)
        return (ExecutionBlocker(message or None) if block else value,)


class AddViaExpansion:
    """Expands into Const + Add instead of computing itself."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"forceInput": True}), "b": ("INT", {"default": 1})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, a, b):
        record("AddViaExpansion", a=a, b=b)
        graph = GraphBuilder()
        const = graph.node("Const", value=a)
        add = graph.node("Add", a=const.out(0), b=b)
        return {"result": (add.out(0),), "expand": graph.finalize()}


class CountUp:
    """A loop by expansion: adds `step` to `value` `times` times, each round a fresh copy of itself."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True}), "times": ("INT", {"default": 3, "min": 0}),
                             "step": ("INT", {"default": 1})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, value, times, step):
        record("CountUp", value=value, times=times)
        if times == 0:
            return (value,)
        graph = GraphBuilder()
        add = graph.node("Add", a=value, b=step)
        again = graph.node("CountUp", value=add.out(0), times=times - 1, step=step)
        return {"result": (again.out(0),), "expand": graph.finalize()}


class Checked:
    """VALIDATE_INPUTS rejects odd values with a message."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "max": 10})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def VALIDATE_INPUTS(cls, value):
        return True if value % 2 == 0 else f"{value} is odd"

    def run(self, value):
        return (value,)


class AnyTyped(_LinkedInt):
    """Accepts any linked type: it checks the types itself (VALIDATE_INPUTS with input_types)."""

    @classmethod
    def VALIDATE_INPUTS(cls, input_types):
        return input_types.get("value") in ("INT", "STRING") or f"cannot take {input_types.get('value')}"

    def run(self, value):
        return (value,)


class Tick:
    """IS_CHANGED returns an external counter: the node re-runs whenever the counter moves."""

    counter = 0

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def IS_CHANGED(cls, value):
        return Tick.counter

    def run(self, value):
        record("Tick", value=value)
        return (value + Tick.counter,)


class Instance:
    """Counts its own calls: shows that one instance serves a node across runs."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    NOT_IDEMPOTENT = True

    def __init__(self):
        self.calls = 0

    def run(self, value):
        self.calls += 1
        return (self.calls,)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    Const, Add, Text, Output, IntOutput, Fail, LazySwitch, Range, SumList, AsyncSleep, Steps, Gate, AddViaExpansion,
    CountUp, Checked, AnyTyped, Tick, Instance)}


class SaveText:
    """An output node that writes its value to a file in the output directory."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",), "filename_prefix": ("STRING", {"default": "text"})}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, value, filename_prefix):
        from runtime.settings import current

        name = f"{filename_prefix}_{value}.txt"
        (current().paths.output_dir / name).write_text(str(value))
        return {"ui": {"texts": [{"filename": name, "subfolder": "", "type": "output"}]}}


NODE_CLASS_MAPPINGS["SaveText"] = SaveText


class BadExpansion:
    """Expands into two nodes that wait on each other, or reuses an id already in the prompt."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"kind": (["cycle", "duplicate"],)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, kind):
        if kind == "duplicate":
            return {"result": (["1", 0],), "expand": {"1": {"class_type": "Const", "inputs": {"value": 1}}}}
        graph = {"x": {"class_type": "Add", "inputs": {"a": ["y", 0], "b": 1}},
                 "y": {"class_type": "Add", "inputs": {"a": ["x", 0], "b": 1}}}
        return {"result": (["x", 0],), "expand": graph}


class Describe:
    """Receives the link itself (rawLink) and the live prompt (DYNPROMPT)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"rawLink": True, "forceInput": True})},
                "hidden": {"dynprompt": "DYNPROMPT", "unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self, value, dynprompt, unique_id):
        source = dynprompt.get_node(value[0])["class_type"]
        return (f"{unique_id} <- {source}#{value[1]}",)


class AsyncFail:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    async def run(self, value):
        import asyncio

        await asyncio.sleep(0.01)
        raise ValueError(f"async failure {value}")


NODE_CLASS_MAPPINGS.update({"BadExpansion": BadExpansion, "Describe": Describe, "AsyncFail": AsyncFail})


class LoopOpen:
    """Start of a while loop: passes its value on, with how many rounds remain."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True}), "remaining": ("INT", {"default": 3, "min": 0})}}

    RETURN_TYPES = ("FLOW_CONTROL", "INT", "INT")
    RETURN_NAMES = ("flow_control", "value", "remaining")
    FUNCTION = "run"

    def run(self, value, remaining):
        return ("open", value, remaining)


class LoopClose:
    """End of a while loop: while rounds remain, expands into a fresh copy of the body from LoopOpen to itself."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"flow_control": ("FLOW_CONTROL", {"rawLink": True}),
                             "value": ("INT", {"forceInput": True}), "remaining": ("INT", {"forceInput": True})},
                "hidden": {"dynprompt": "DYNPROMPT", "unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, flow_control, value, remaining, dynprompt, unique_id):
        record("LoopClose", value=value, remaining=remaining)
        if remaining <= 0:
            return (value,)
        body = self._body(dynprompt, flow_control[0], unique_id)
        graph = GraphBuilder()
        copies = {node_id: graph.node(dynprompt.get_node(node_id)["class_type"],
                                      "again" if node_id == unique_id else node_id) for node_id in body}
        for node_id, copy in copies.items():
            copy.set_override_display_id(node_id)
            for name, value_in in dynprompt.get_node(node_id)["inputs"].items():
                linked_inside = isinstance(value_in, list) and len(value_in) == 2 and value_in[0] in copies
                copy.set_input(name, copies[value_in[0]].out(value_in[1]) if linked_inside else value_in)
        copies[flow_control[0]].set_input("value", value)
        copies[flow_control[0]].set_input("remaining", remaining - 1)
        return {"result": (copies[unique_id].out(0),), "expand": graph.finalize()}

    @staticmethod
    def _body(dynprompt, open_id: str, close_id: str) -> list[str]:
        """The nodes on some path from the open node to this one (both included)."""
        depends: dict[str, bool] = {open_id: True}

        def reaches_open(node_id: str) -> bool:
            if node_id not in depends:
                depends[node_id] = False
                producers = [v[0] for v in dynprompt.get_node(node_id)["inputs"].values()
                             if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)]
                depends[node_id] = any([reaches_open(p) for p in producers])
            return depends[node_id]

        reaches_open(close_id)
        return [node_id for node_id, inside in depends.items() if inside]


NODE_CLASS_MAPPINGS.update({"LoopOpen": LoopOpen, "LoopClose": LoopClose})


class BlockOdd(_LinkedInt):
    """Blocks odd items of a list, one item at a time."""

    def run(self, value):
        return (ExecutionBlocker(None) if value % 2 else value,)


class Loose:
    """VALIDATE_INPUTS taking **kwargs: no min/max/list checks by the executor; async, too."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "min": 0, "max": 1}), "mode": (["a", "b"],)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    async def VALIDATE_INPUTS(cls, **kwargs):
        return kwargs["value"] != 13 or "unlucky"

    def run(self, value, mode):
        return (value,)


NODE_CLASS_MAPPINGS.update({"BlockOdd": BlockOdd, "Loose": Loose})


class Previewing(_LinkedInt):
    """Sends one preview image (any object stands in for a PIL image here)."""

    def run(self, value):
        progress.report(1, 1, ("JPEG", f"image {value}", 512))
        return (value,)


class PreviewViaExpansion(_LinkedInt):
    def run(self, value):
        graph = GraphBuilder()
        inner = graph.node("Previewing", value=value)
        return {"result": (inner.out(0),), "expand": graph.finalize()}


NODE_CLASS_MAPPINGS.update({"Previewing": Previewing, "PreviewViaExpansion": PreviewViaExpansion})
