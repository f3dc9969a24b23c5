"""Image nodes run by the executor: PNG metadata from the hidden inputs, IS_CHANGED re-runs, readable errors."""

import numpy as np
import pytest
from PIL import Image

import nodes
from runtime.imaging.png_metadata import read_workflow

executor_engine = pytest.importorskip("executor.engine")
from executor.validate import validate_prompt  # noqa: E402


def graph(image_name="photo.png"):
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "area", "scale_by": 0.5}},
        "3": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "run/inverted"}},
    }


def run(executor, prompt, workflow=None):
    check = validate_prompt(prompt, nodes.NODE_CLASS_MAPPINGS)
    assert check.ok, check.node_errors
    extra = {"extra_pnginfo": {"workflow": workflow}} if workflow is not None else {}
    return executor.execute(prompt, "prompt-1", extra)


def test_saved_png_carries_prompt_and_workflow_and_inverted_pixels(folders):
    Image.fromarray(np.full((8, 6, 3), 40, dtype=np.uint8)).save(folders.input_dir / "photo.png")
    executor = executor_engine.Executor(nodes.NODE_CLASS_MAPPINGS)
    prompt, workflow = graph(), {"nodes": [], "links": [], "version": 0.4}
    result = run(executor, prompt, workflow)
    assert result.success, result.error
    (entry,) = result.outputs["4"]["images"]
    assert entry == {"filename": "inverted_00001_.png", "subfolder": "run", "type": "output"}
    saved = folders.output_dir / "run" / entry["filename"]
    chunks = read_workflow(saved)
    assert chunks["workflow"] == workflow
    assert chunks["prompt"]["4"]["class_type"] == "SaveImage"
    with Image.open(saved) as picture:
        assert picture.size == (3, 4) and picture.getpixel((0, 0)) == (215, 215, 215)


def test_changed_input_file_reruns_the_loader(folders):
    path = folders.input_dir / "photo.png"
    Image.new("RGB", (4, 4), (10, 10, 10)).save(path)
    executor = executor_engine.Executor(nodes.NODE_CLASS_MAPPINGS)
    first = run(executor, graph())
    again = run(executor, graph())
    assert "1" in first.ran and again.ran == []
    Image.new("RGB", (4, 4), (200, 10, 10)).save(path)
    changed = run(executor, graph())
    assert "1" in changed.ran


def test_missing_image_fails_validation_with_comfyui_message(folders):
    result = validate_prompt(graph("absent.png"), nodes.NODE_CLASS_MAPPINGS)
    assert not result.ok
    messages = [error["details"] for error in result.node_errors["1"]["errors"]]
    assert any("Invalid image file: absent.png" in message for message in messages)


def test_non_image_file_is_an_execution_error_naming_node_and_file(folders):
    (folders.input_dir / "photo.png").write_text("text, not pixels")
    result = run(executor_engine.Executor(nodes.NODE_CLASS_MAPPINGS), graph())
    assert not result.success
    assert "LoadImage: input 'image'" in str(result.error) and "photo.png is not an image" in str(result.error)
