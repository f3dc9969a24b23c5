"""The example pack custom_nodes/image_adjust: loads from the repository, adjusts pixels as documented."""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from executor.engine import Executor
from executor.validate import validate_prompt

REPO_PACKS = Path(__file__).resolve().parents[2] / "custom_nodes"
CAPTURED: dict[str, torch.Tensor] = {}


class FixedImage:
    """Feeds the image stored under `key` in CAPTURED into a workflow."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"key": ("STRING", {"default": "in"})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def run(self, key):
        return (CAPTURED[key],)


class CaptureImage:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, image):
        CAPTURED["out"] = image
        return {"ui": {"shape": [list(image.shape)]}}


@pytest.fixture
def adjust(registry):
    registry.with_plugins([REPO_PACKS])
    report = registry.plugins.reports["image_adjust"]
    assert report.status == "loaded", report.traceback
    return {name: registry.classes[name]() for name in report.nodes}


def ramp(batch=1, height=4, width=8, channels=3) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(batch, height, width, channels)


def test_the_pack_loads_with_its_canvas_extension(registry, adjust):
    report = registry.plugins.reports["image_adjust"]
    assert set(report.nodes) == {"ImageAdjust", "ImageLevels", "ImageAutoContrast", "ImageTint"}
    assert (registry.web_directories["image_adjust"] / "color_widget.js").is_file()
    assert registry.object_info("ImageTint")["ImageTint"]["input"]["required"]["color"][0] == "ADJUST_COLOR"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_canvas_extension_is_valid_javascript():
    script = REPO_PACKS / "image_adjust" / "web" / "color_widget.js"
    subprocess.run(["node", "--check", str(script)], check=True)


def test_neutral_settings_keep_the_image(adjust):
    image = ramp()
    (out,) = adjust["ImageAdjust"].adjust(image, 0.0, 1.0, 1.0, 0.0, 1.0)
    assert torch.allclose(out, image, atol=1e-6)


def test_each_adjustment(adjust):
    node, image = adjust["ImageAdjust"], ramp() * 0.5 + 0.25
    (brighter,) = node.adjust(image, 0.1, 1.0, 1.0, 0.0, 1.0)
    assert torch.allclose(brighter, image + 0.1, atol=1e-6)
    (flat,) = node.adjust(image, 0.0, 0.0, 1.0, 0.0, 1.0)
    assert torch.allclose(flat, flat.mean().expand_as(flat), atol=1e-5)
    (grey,) = node.adjust(image, 0.0, 1.0, 0.0, 0.0, 1.0)
    assert torch.allclose(grey[..., 0], grey[..., 1], atol=1e-6) and torch.allclose(grey[..., 1], grey[..., 2])
    red = torch.zeros(1, 1, 1, 3)
    red[..., 0] = 0.8
    (green,) = node.adjust(red, 0.0, 1.0, 1.0, 120.0, 1.0)
    assert torch.allclose(green.flatten(), torch.tensor([0.0, 0.8, 0.0]), atol=1e-5)
    (lifted,) = node.adjust(torch.full((1, 1, 1, 3), 0.25), 0.0, 1.0, 1.0, 0.0, 2.0)
    assert torch.allclose(lifted, torch.full_like(lifted, 0.5))


def test_a_mask_limits_the_adjustment_and_alpha_is_kept(adjust):
    image = ramp(channels=4)
    mask = torch.zeros(1, 4, 8)
    mask[:, :, 4:] = 1
    (out,) = adjust["ImageAdjust"].adjust(image, 0.0, 1.0, 0.0, 0.0, 1.0, mask=mask)
    assert torch.equal(out[:, :, :4], image[:, :, :4])
    assert torch.allclose(out[:, :, 4:, 0], out[:, :, 4:, 1], atol=1e-6)
    assert torch.equal(out[..., 3], image[..., 3])
    with pytest.raises(ValueError, match="mask is"):
        adjust["ImageAdjust"].adjust(image, 0.0, 1.0, 0.0, 0.0, 1.0, mask=torch.zeros(1, 3, 3))


def test_levels_map_the_input_range(adjust):
    image = torch.tensor([0.1, 0.2, 0.5, 0.8, 0.9]).reshape(1, 1, 5, 1).expand(1, 1, 5, 3)
    (out,) = adjust["ImageLevels"].levels(image, 0.2, 0.8, 1.0, 0.0, 1.0)
    assert torch.allclose(out[0, 0, :, 0], torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]), atol=1e-6)
    (narrowed,) = adjust["ImageLevels"].levels(image, 0.0, 1.0, 1.0, 0.2, 0.6)
    assert narrowed.min() >= 0.2 - 1e-6 and narrowed.max() <= 0.6 + 1e-6


def test_auto_contrast_stretches_each_image(adjust):
    image = ramp(batch=2) * 0.5 + 0.25
    (out,) = adjust["ImageAutoContrast"].stretch(image, 0.0, False)
    for picture in out:
        assert picture.min() < 0.05 and picture.max() > 0.95


def test_tint_keeps_greys_light_and_takes_the_colour(adjust):
    grey = torch.full((1, 2, 2, 3), 0.5)
    (out,) = adjust["ImageTint"].tint(grey, "#ff0000", 1.0)
    assert out[..., 1].max() == 0 and out[..., 0].min() > 0.99
    (unchanged,) = adjust["ImageTint"].tint(grey, "#00ff00", 0.0)
    assert torch.equal(unchanged, grey)


def _executor(registry):
    registry.classes.update({"FixedImage": FixedImage, "CaptureImage": CaptureImage})
    events = []
    return Executor(registry.classes, emit=lambda e, d: events.append((e, d))), events


def test_the_nodes_run_in_a_workflow_with_progress(registry, adjust):
    CAPTURED["in"] = ramp(batch=3)
    executor, events = _executor(registry)
    prompt = {"1": {"class_type": "FixedImage", "inputs": {"key": "in"}},
              "2": {"class_type": "ImageAutoContrast", "inputs": {"image": ["1", 0], "cutoff": 1.0,
                                                                  "per_channel": True}},
              "3": {"class_type": "ImageTint", "inputs": {"image": ["2", 0], "color": "#3366ff", "strength": 0.5}},
              "4": {"class_type": "CaptureImage", "inputs": {"image": ["3", 0]}}}
    verdict = validate_prompt(prompt, registry.classes)
    assert verdict.ok, verdict.node_errors
    result = executor.execute(prompt, "p", execute_outputs=verdict.outputs)
    assert result.success and CAPTURED["out"].shape == (3, 4, 8, 3)
    assert [d["value"] for e, d in events if e == "progress" and d["node"] == "2"] == [1, 2, 3]


def test_bad_levels_and_colours_are_validation_errors(registry, adjust):
    registry.classes["FixedImage"] = FixedImage
    registry.classes["CaptureImage"] = CaptureImage
    prompt = {"1": {"class_type": "FixedImage", "inputs": {"key": "in"}},
              "2": {"class_type": "ImageLevels", "inputs": {"image": ["1", 0], "black_point": 0.7,
                                                            "white_point": 0.3, "gamma": 1.0, "output_black": 0.0,
                                                            "output_white": 1.0}},
              "3": {"class_type": "ImageTint", "inputs": {"image": ["2", 0], "color": "red", "strength": 0.5}},
              "4": {"class_type": "CaptureImage", "inputs": {"image": ["3", 0]}}}
    verdict = validate_prompt(prompt, registry.classes)
    assert not verdict.ok
    assert "black_point < white_point" in verdict.node_errors["2"]["errors"][0]["details"]
    assert "#rrggbb" in verdict.node_errors["3"]["errors"][0]["details"]
