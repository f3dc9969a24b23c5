"""A real server on a free loopback port, with small pure-Python test nodes in its registry (no torch)."""

from __future__ import annotations

import socket
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from diffloom.config import ServerConfig
from executor import progress
import runtime
from runtime.settings import current, install
from nodes.registry import NodeRegistry
from web.server.app import create_app


class Number:
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "min": -100, "max": 10000})}}

    def run(self, value):
        return (value,)


class Add:
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"default": 0}), "b": ("INT", {"default": 0})}}

    def run(self, a, b):
        return (a + b,)


class Slow:
    """Sleeps `steps` × `delay` seconds, reporting progress with a preview each step (interruptible)."""
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0}), "steps": ("INT", {"default": 2}),
                             "delay": ("FLOAT", {"default": 0.01})}}

    def run(self, value, steps, delay):
        from PIL import Image

        for step in range(steps):
            time.sleep(delay)
            progress.report(step + 1, steps, ("JPEG", Image.new("RGB", (64, 32), (value % 256, 0, 0)), 512))
        return (value,)


class SaveNumber:
    """Saves a tiny PNG whose red channel is the value, into the output folder, and shows it."""
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0}), "filename_prefix": ("STRING", {"default": "n"})}}

    def save(self, value, filename_prefix):
        from PIL import Image

        out = current().paths.output_dir
        out.mkdir(parents=True, exist_ok=True)
        name = f"{filename_prefix}_{value}.png"
        Image.new("RGB", (4, 4), (value % 256, 0, 0)).save(out / name)
        return {"ui": {"images": [{"filename": name, "subfolder": "", "type": "output"}]}}


class _OutputOnly:
    """The declaration of the output nodes below: no outputs, no inputs unless they add some, FUNCTION run."""
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}


class Fail(_OutputOnly):
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    def run(self, value):
        raise ValueError(f"refusing {value}")


class OddUI(_OutputOnly):
    """Returns UI data JSON cannot hold directly (a set, a Path)."""

    def run(self):
        from pathlib import Path

        return {"ui": {"text": [Path("a/b.txt")], "tags": [{"x"}]}}


class BadPreview(_OutputOnly):
    """Reports a preview that is not an image."""

    def run(self):
        progress.report(1, 1, ("JPEG", "not an image", 512))
        return {"ui": {}}


TEST_NODES = {"TestOddUI": OddUI, "TestBadPreview": BadPreview, "TestNumber": Number, "TestAdd": Add,
              "TestSlow": Slow, "TestSaveNumber": SaveNumber, "TestFail": Fail}


def save_prompt(value: int, prefix: str = "n", slow_steps: int = 0, delay: float = 0.01) -> dict:
    """Number → (Slow) → SaveNumber, the smallest graph that writes an output."""
    prompt = {"1": {"class_type": "TestNumber", "inputs": {"value": value}},
              "3": {"class_type": "TestSaveNumber", "inputs": {"value": ["1", 0], "filename_prefix": prefix}}}
    if slow_steps:
        prompt["2"] = {"class_type": "TestSlow", "inputs": {"value": ["1", 0], "steps": slow_steps, "delay": delay}}
        prompt["3"]["inputs"]["value"] = ["2", 0]
    return prompt


def editor_workflow(value: int = 5, **number_fields) -> dict:
    """The editor format of Number → SaveNumber, as the canvas saves it; `number_fields` go on the Number node."""
    return {"nodes": [
        {"id": 1, "type": "TestNumber", "mode": 0, "widgets_values": [value],
         "outputs": [{"name": "INT", "type": "INT", "links": [1]}], **number_fields},
        {"id": 2, "type": "TestSaveNumber", "mode": 0, "widgets_values": [0, "n"],
         "inputs": [{"name": "value", "type": "INT", "link": 1, "widget": {"name": "value"}}]}],
        "links": [[1, 1, 0, 2, 0, "INT"]], "version": 0.4}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry() -> NodeRegistry:
    return NodeRegistry(classes=dict(TEST_NODES), display_names={"TestNumber": "Number"})


@pytest.fixture
async def make_server(tmp_path, registry):
    """`await make_server(**config)` → an aiohttp TestClient talking to a real server on 127.0.0.1."""
    clients: list[TestClient] = []
    previous = current()

    async def start(**overrides) -> TestClient:
        config = ServerConfig(base_directory=tmp_path, **overrides)
        paths = runtime.configure(paths=runtime.Paths.create(tmp_path)).paths
        for directory in (paths.input_dir, paths.output_dir, paths.temp_dir, paths.user_dir):
            directory.mkdir(parents=True, exist_ok=True)
        client = TestClient(TestServer(create_app(config, registry, paths), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
    install(previous)


@pytest.fixture
async def server(make_server) -> TestClient:
    return await make_server()
