"""Run a shipped workflow file on the shipped toy files, as a user does: editor JSON → API prompt → executor → PNG.

Models come from the repository's `models/`; input pictures from a scratch input folder that starts with the
shipped `input/` pictures (tests add their own); outputs go to a scratch folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "checkpoint": ROOT / "models" / "checkpoints" / "toy.safetensors",
    "controlnet": ROOT / "models" / "controlnet" / "toy_silhouette.safetensors",
    "lora": ROOT / "models" / "loras" / "toy_huge.safetensors",
}


class WorkflowRunner:
    def __init__(self, scratch: Path):
        import contextlib

        import runtime
        from executor.engine import Executor
        from nodes.registry import NodeRegistry

        self.require("checkpoint")
        self.input_dir, self.output_dir = scratch / "input", scratch / "output"
        shutil.copytree(ROOT / "input", self.input_dir)
        self._folders = contextlib.ExitStack()
        self._folders.enter_context(runtime.configured(paths=runtime.Paths.create(
            ROOT, input_dir=self.input_dir, output_dir=self.output_dir, temp_dir=scratch / "temp")))
        self.classes = NodeRegistry.builtin().classes
        self.executor = Executor(self.classes)  # one executor: its cache keeps the loaded models between runs
        self._runs = 0

    @staticmethod
    def require(name: str) -> None:
        assert SHIPPED[name].is_file(), f"the toy {name} ships at {SHIPPED[name]}"

    def close(self) -> None:
        self._folders.close()

    def prompt(self, workflow: str) -> "Prompt":
        from executor.convert import editor_to_api

        editor = json.loads((ROOT / "workflows" / f"{workflow}.json").read_text())
        return Prompt(editor_to_api(editor, self.classes))

    def add_input(self, name: str, picture: np.ndarray) -> str:
        from PIL import Image

        Image.fromarray(picture).save(self.input_dir / name)
        return name

    def run(self, prompt: "Prompt") -> np.ndarray:
        """The picture the workflow's SaveImage node writes, [H, W, 3] uint8."""
        from PIL import Image

        save = prompt.node_id("SaveImage")
        image = self._execute(prompt.api, [save])[save]["images"][0]
        with Image.open(self.output_dir / image["subfolder"] / image["filename"]) as picture:
            return np.asarray(picture.convert("RGB"))

    def run_latents(self, prompt: "Prompt", sources: dict[str, list]) -> dict[str, "torch.Tensor"]:
        """Run `prompt` with a SaveLatent node added on each of `sources` (name → [node id, output]); the saved
        latents by name, read back from the files the nodes write."""
        from safetensors.torch import load_file

        api = prompt.copy().api
        for name, source in sources.items():
            api[f"latent-{name}"] = {"class_type": "SaveLatent",
                                     "inputs": {"samples": source, "filename_prefix": f"latents/{name}"}}
        outputs = self._execute(api, [f"latent-{name}" for name in sources])
        latents = {}
        for name in sources:
            saved = outputs[f"latent-{name}"]["latents"][0]
            latents[name] = load_file(str(self.output_dir / saved["subfolder"] / saved["filename"]))["latent_tensor"]
        return latents

    def _execute(self, api: dict, output_nodes: list[str]) -> dict:
        """Run the API prompt up to `output_nodes`; their UI outputs by node id (a failed run fails the test)."""
        self._runs += 1
        result = self.executor.execute(api, f"quality-{self._runs}", execute_outputs=output_nodes)
        assert result.success, result.messages[-1]
        return result.outputs


class Prompt:
    """An API prompt with its inputs reachable by node type (each toy workflow has one node of each type used)."""

    def __init__(self, api: dict):
        self.api = api

    def node_id(self, class_type: str) -> str:
        found = [node_id for node_id, node in self.api.items() if node["class_type"] == class_type]
        assert len(found) == 1, f"expected one {class_type} node, found {found}"
        return found[0]

    def inputs(self, class_type: str) -> dict:
        return self.api[self.node_id(class_type)]["inputs"]

    def positive(self) -> dict:
        """The inputs of the text node feeding the sampler's positive (through a ControlNet apply, if any)."""
        node_id = self.inputs("KSampler")["positive"][0]
        while self.api[node_id]["class_type"] != "CLIPTextEncode":
            node_id = self.api[node_id]["inputs"]["positive"][0]
        return self.api[node_id]["inputs"]

    def copy(self) -> "Prompt":
        return Prompt(json.loads(json.dumps(self.api)))
