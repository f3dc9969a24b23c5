"""Bad input around the shipped toy model: prompts outside its domain still give a picture; a damaged or missing
toy file gives the loader's usual clear error and leaves the executor working."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("text", [
    "a photo of an astronaut riding a horse on the moon, 8k, trending on artstation",
    "",
    "🦊 ünïcödé (weighted:1.4) [brackets] " * 12,  # over 77 tokens: several chunks
])
def test_prompts_outside_the_domain_still_give_a_picture(toy_runner, text):
    prompt = toy_runner.prompt("txt2img")
    prompt.positive()["text"] = text
    picture = toy_runner.run(prompt)
    assert picture.shape == (32, 32, 3)


def test_a_damaged_toy_file_names_the_node_input_and_file(toy_runner):
    from tests.toymodel.workflow_runner import SHIPPED

    damaged = SHIPPED["checkpoint"].parent / "toy_damaged_for_test.safetensors"
    data = SHIPPED["checkpoint"].read_bytes()
    try:
        damaged.write_bytes(data[: len(data) // 3])
        prompt = toy_runner.prompt("txt2img")
        loader = prompt.node_id("CheckpointLoaderSimple")
        prompt.inputs("CheckpointLoaderSimple")["ckpt_name"] = damaged.name
        result = toy_runner.executor.execute(prompt.api, "damaged", execute_outputs=[prompt.node_id("SaveImage")])
    finally:
        damaged.unlink(missing_ok=True)
    assert not result.success
    error = result.error
    assert (error["node_id"], error["node_type"]) == (loader, "CheckpointLoaderSimple")
    assert damaged.name in error["exception_message"], error["exception_message"]
    # the executor still works afterwards, with the real file
    assert toy_runner.run(toy_runner.prompt("txt2img")).shape == (32, 32, 3)


def test_a_missing_toy_file_is_a_validation_error(toy_runner):
    from executor.validate import describe, validate_prompt

    prompt = toy_runner.prompt("txt2img")
    prompt.inputs("CheckpointLoaderSimple")["ckpt_name"] = "toy_missing.safetensors"
    check = validate_prompt(prompt.api, toy_runner.classes)
    assert not check.ok
    text = describe(check)
    assert "ckpt_name" in text and "toy_missing.safetensors" in text, text
