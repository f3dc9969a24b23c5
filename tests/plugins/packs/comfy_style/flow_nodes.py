"""Flow-control nodes: lazy inputs, a blocker, and expansion through GraphBuilder (a chain and a loop)."""

from comfy_execution.graph import ExecutionBlocker
from comfy_execution.graph_utils import GraphBuilder, is_link


class TestLazySwitch:
    """Evaluates only the branch it picks."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pick_b": ("BOOLEAN", {"default": False}),
                             "a": ("INT", {"lazy": True}), "b": ("INT", {"lazy": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "switch"
    CATEGORY = "tests"

    def check_lazy_status(self, pick_b, a=None, b=None):
        wanted = "b" if pick_b else "a"
        return [wanted] if (b if pick_b else a) is None else []

    def switch(self, pick_b, a=None, b=None):
        return (b if pick_b else a,)


class TestGate:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",), "open": ("BOOLEAN", {"default": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "gate"
    CATEGORY = "tests"

    def gate(self, value, open):
        return (value if open else ExecutionBlocker(None),)


class TestRepeatAdd:
    """Expands into `times` TestAdd nodes in a chain: value + step * times."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",), "step": ("INT", {"default": 1}), "times": ("INT", {"default": 2})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "expand"
    CATEGORY = "tests"

    def expand(self, value, step, times):
        graph = GraphBuilder()
        current = value
        for _ in range(times):
            current = graph.node("TestAdd", a=current, b=step).out(0)
        assert is_link(current) or times == 0
        return {"result": (current,), "expand": graph.finalize()}


class TestCountdown:
    """A loop by expansion: while `remaining` > 0, add `step` and expand into another copy of itself."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",), "step": ("INT", {"default": 1}), "remaining": ("INT", {"default": 3})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "loop"
    CATEGORY = "tests"

    def loop(self, value, step, remaining):
        if remaining <= 0:
            return (value,)
        graph = GraphBuilder()
        added = graph.node("TestAdd", a=value, b=step)
        again = graph.node("TestCountdown", value=added.out(0), step=step, remaining=remaining - 1)
        return {"result": (again.out(0),), "expand": graph.finalize()}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (TestLazySwitch, TestGate, TestRepeatAdd, TestCountdown)}
NODE_DISPLAY_NAME_MAPPINGS = {"TestCountdown": "Countdown loop"}
