"""Flow-control nodes: lazy inputs, a blocker, and expansion through GraphBuilder (a chain, a recursive loop, and a
while loop whose body is copied from the live prompt through DYNPROMPT and a rawLink)."""

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


class TestLessThan:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"default": 0}), "b": ("INT", {"default": 0})}}

    RETURN_TYPES = ("BOOLEAN",)
    FUNCTION = "compare"
    CATEGORY = "tests"

    def compare(self, a, b):
        return (a < b,)


class TestWhileOpen:
    """Start of a while loop: passes `value` on, plus a FLOW_CONTROL link the closing node uses to find the body."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("FLOW_CONTROL", "INT")
    FUNCTION = "open"
    CATEGORY = "tests"

    def open(self, value):
        return ("loop", value)


def _links(node: dict):
    return [value for value in node["inputs"].values() if is_link(value)]


class TestWhileClose:
    """End of a while loop: while `condition` holds, expand into a copy of the body (every node between the open
    node and this one) whose open node starts from the current `value`, ending in another copy of this node."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"flow": ("FLOW_CONTROL", {"rawLink": True}),
                             "condition": ("BOOLEAN", {"forceInput": True}), "value": ("INT", {"forceInput": True})},
                "hidden": {"dynprompt": "DYNPROMPT", "unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "close"
    CATEGORY = "tests"

    def close(self, flow, condition, value, dynprompt, unique_id):
        if not condition:
            return (value,)
        open_id = flow[0]
        body: set[str] = set()
        seen: dict[str, bool] = {}

        def reaches_open(node_id: str) -> bool:
            if node_id not in seen:
                seen[node_id] = node_id == open_id
                for parent, _ in _links(dynprompt.get_node(node_id)):
                    seen[node_id] = reaches_open(parent) or seen[node_id]
                if seen[node_id]:
                    body.add(node_id)
            return seen[node_id]

        for parent, _ in _links(dynprompt.get_node(unique_id)):
            reaches_open(parent)
        graph = GraphBuilder()
        for node_id in sorted(body) + [unique_id]:
            original = dynprompt.get_node(node_id)
            graph.node(original["class_type"], id=node_id)
        for node_id in sorted(body) + [unique_id]:
            copy = graph.lookup_node(node_id)
            for name, given in dynprompt.get_node(node_id)["inputs"].items():
                inside = is_link(given) and given[0] in body
                copy.set_input(name, graph.lookup_node(given[0]).out(given[1]) if inside else given)
        graph.lookup_node(open_id).set_input("value", value)
        return {"result": (graph.lookup_node(unique_id).out(0),), "expand": graph.finalize()}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (TestLazySwitch, TestGate, TestRepeatAdd, TestCountdown,
                                                     TestLessThan, TestWhileOpen, TestWhileClose)}
NODE_DISPLAY_NAME_MAPPINGS = {"TestCountdown": "Countdown loop"}
