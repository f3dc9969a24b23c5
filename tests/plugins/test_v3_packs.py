"""V3 packs (`comfy_entrypoint` + `comfy_api.latest` `io.ComfyNode` schemas) load, show in /object_info like V1
nodes, and run through the executor with hidden inputs, UI results and async execute."""

import pytest

from executor.engine import Executor

PACK = '''
from comfy_api.latest import ComfyAPISync, ComfyExtension, io, ui

api = ComfyAPISync()


class Make(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="V3Make", display_name="Make a number", category="testing/v3",
            description="adds or multiplies",
            inputs=[io.Int.Input("a", default=2, min=0, max=10),
                    io.Combo.Input("mode", options=["add", "mul"], default="mul"),
                    io.Float.Input("b", default=1.5, optional=True, tooltip="second operand")],
            outputs=[io.Float.Output(display_name="value"), io.String.Output("who")],
            hidden=[io.Hidden.unique_id])

    @classmethod
    def execute(cls, a, mode, b=1.5):
        api.execution.set_progress(1, 2)
        return io.NodeOutput(a * b if mode == "mul" else a + b, f"node {cls.hidden.unique_id}")


class Show(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3Show", category="testing/v3", is_output_node=True,
                         inputs=[io.Float.Input("value", force_input=True), io.String.Input("who", force_input=True)],
                         outputs=[])

    @classmethod
    async def execute(cls, value, who):
        return io.NodeOutput(ui=ui.PreviewText(f"{who}: {value}"))


class Extension(ComfyExtension):
    async def get_node_list(self):
        return [Make, Show]


async def comfy_entrypoint():
    return Extension()
'''


@pytest.fixture
def v3_pack(load, write_pack, registry):
    write_pack("v3_pack", {"__init__.py": PACK})
    return load().reports["v3_pack"]


def test_a_v3_pack_registers_its_schemas(v3_pack, registry):
    assert v3_pack.status == "loaded" and v3_pack.error is None, v3_pack.error
    assert v3_pack.nodes == ["V3Make", "V3Show"]
    info = registry.object_info("V3Make")["V3Make"]
    assert info["display_name"] == "Make a number" and info["category"] == "testing/v3"
    assert info["input"]["required"]["a"] == ["INT", {"default": 2, "min": 0, "max": 10}]
    assert info["input"]["required"]["mode"][0] == ["add", "mul"]
    assert info["input"]["optional"]["b"] == ["FLOAT", {"default": 1.5, "tooltip": "second operand"}]
    assert info["output"] == ["FLOAT", "STRING"] and info["output_name"] == ["value", "who"]
    assert info["python_module"] == "custom_nodes.v3_pack" and info["description"] == "adds or multiplies"
    assert registry.object_info("V3Show")["V3Show"]["output_node"] is True


def test_v3_nodes_run_in_the_executor_with_hidden_inputs_and_ui(v3_pack, registry):
    prompt = {"1": {"class_type": "V3Make", "inputs": {"a": 4, "mode": "mul", "b": 0.5}},
              "2": {"class_type": "V3Show", "inputs": {"value": ["1", 0], "who": ["1", 1]}}}
    events = []
    result = Executor(registry.classes, emit=lambda event, data: events.append((event, data))).execute(prompt, "v3")
    assert result.success, result.error
    assert result.outputs["2"] == {"text": ["node 1: 2.0"]}
    progress = [data for event, data in events if event == "progress"]
    assert [(p["node"], p["value"], p["max"]) for p in progress] == [("1", 1, 2)]  # ComfyAPI's set_progress


def test_a_schema_with_repeated_ids_is_refused_by_name(load, write_pack):
    write_pack("bad_v3", {"__init__.py": PACK.replace('io.String.Output("who")', 'io.String.Output("value")')
                                            .replace('io.Float.Output(display_name="value")', 'io.Float.Output("value")')})
    report = load().reports["bad_v3"]
    assert report.status == "failed" and "V3Make: output ids must be unique, repeated: ['value']" in report.error


def test_ui_preview_image_saves_to_the_temp_folder(load, write_pack, registry, base_dir):
    import torch

    write_pack("v3_preview.py", '''
from comfy_api.latest import ComfyExtension, io, ui


class Preview(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3Preview", is_output_node=True, inputs=[io.Image.Input("image")])

    @classmethod
    def execute(cls, image):
        return io.NodeOutput(ui=ui.PreviewImage(image, cls=cls))


class Extension(ComfyExtension):
    async def get_node_list(self):
        return [Preview]


def comfy_entrypoint():
    return Extension()
''')
    assert load().reports["v3_preview"].status == "loaded"
    out = registry.classes["V3Preview"]().EXECUTE_NORMALIZED(image=torch.zeros(1, 4, 4, 3))
    (saved,) = out["ui"]["images"]
    assert saved["type"] == "temp" and (base_dir / "temp" / saved["subfolder"] / saved["filename"]).is_file()
    assert out["result"] == ()
