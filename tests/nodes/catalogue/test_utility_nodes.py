"""ResizeImageMaskNode, ImageFromBatch, RebatchLatents, latent arithmetic, ConditioningSetAreaStrength and
SaveImageWebsocket, called directly and through the executor."""

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import nodes
from executor import progress
from executor.engine import Executor
from executor.validate import validate_prompt
from nodes.stages.conditioning import ConditioningSetAreaStrength
from nodes.stages.utility import (ImageFromBatch, LatentAdd, LatentMultiply, LatentSubtract, RebatchLatents,
                                  ResizeImageMaskNode, SaveImageWebsocket)


def resize(value, kind, method="bilinear", **options):
    return ResizeImageMaskNode().resize(value, kind, method, **{f"resize_type.{k}": v for k, v in options.items()})[0]


def bilinear(image, height, width):
    return F.interpolate(image.movedim(-1, 1), size=(height, width), mode="bilinear").movedim(1, -1)


@pytest.mark.parametrize("kind,options,size", [
    ("scale by multiplier", {"multiplier": 1.5}, (15, 24)),
    ("scale dimensions", {"width": 20, "height": 0, "crop": "disabled"}, (12, 20)),  # round(12.5) = 12
    ("scale longer dimension", {"longer_size": 32}, (20, 32)),
    ("scale shorter dimension", {"shorter_size": 5}, (5, 8)),
    ("scale width", {"width": 8}, (5, 8)),
    ("scale height", {"height": 20}, (20, 32)),
    ("scale total pixels", {"megapixels": 640 / 1024 / 1024}, (20, 32)),
])
def test_resize_types_give_comfyui_sizes_and_bilinear_pixels(kind, options, size):
    image = torch.rand(2, 10, 16, 3, generator=torch.Generator().manual_seed(0))
    out = resize(image, kind, **options)
    assert out.shape == (2, *size, 3)
    torch.testing.assert_close(out, bilinear(image, *size))
    mask = image[..., 0]
    assert resize(mask, kind, **options).shape == (2, *size)


def test_match_size_with_centre_crop_and_mask_reference():
    image = torch.rand(1, 8, 16, 3, generator=torch.Generator().manual_seed(1))
    out = resize(image, "match size", "nearest-exact", match=torch.zeros(1, 4, 4), crop="center")
    expected = F.interpolate(image[:, :, 4:12].movedim(-1, 1), size=(4, 4), mode="nearest-exact").movedim(1, -1)
    torch.testing.assert_close(out, expected)


def test_missing_option_input_is_a_clear_error():
    with pytest.raises(ValueError, match="resize_type.multiplier"):
        ResizeImageMaskNode().resize(torch.zeros(1, 4, 4, 3), "scale by multiplier", "area")


def test_resize_runs_from_an_api_prompt_with_dotted_inputs(tmp_path):
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 8, "batch_size": 1, "color": 255}},
              "2": {"class_type": "ResizeImageMaskNode",
                    "inputs": {"input": ["1", 0], "resize_type": "scale dimensions", "resize_type.width": 4,
                               "resize_type.height": 4, "resize_type.crop": "center", "scale_method": "area"}},
              "3": {"class_type": "ImageFromBatch", "inputs": {"image": ["2", 0], "batch_index": 0, "length": 1}},
              "4": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["3", 0]}}}
    assert validate_prompt(prompt, nodes.NODE_CLASS_MAPPINGS).ok
    events = []
    result = Executor(nodes.NODE_CLASS_MAPPINGS, emit=lambda event, data: events.append((event, data))).execute(
        prompt, "p1")
    assert result.success, result.error
    previews = [data for event, data in events if event == "preview_image"]
    assert len(previews) == 1 and previews[0]["node"] == "4" and previews[0]["format"] == "PNG"
    assert previews[0]["max_size"] is None and previews[0]["image"].size == (4, 4)
    assert previews[0]["image"].getpixel((0, 0)) == (0, 0, 255)


def test_save_image_websocket_sends_every_image_as_an_unresized_png_frame():
    from web.server.preview import encode_preview

    images = torch.rand(2, 600, 20, 3, generator=torch.Generator().manual_seed(2))
    sent = []
    hook = progress.ProgressHook("p", "7", "7", lambda event, data: sent.append((event, data)))
    with progress.installed(hook):
        assert SaveImageWebsocket().save_images(images) == {"result": ()}
    frames = [data for event, data in sent if event == "preview_image"]
    assert [f["max_size"] for f in frames] == [None, None]
    frame = encode_preview(frames[1]["format"], frames[1]["image"], None, 512, {"node_id": "7"})
    with Image.open(io.BytesIO(frame.image)) as picture:
        assert picture.format == "PNG" and picture.size == (20, 600)  # not fitted into the 512 preview size
        expected = np.clip(255.0 * images[1].numpy(), 0, 255).astype(np.uint8)
        assert np.array_equal(np.asarray(picture), expected)


def test_image_from_batch_clips_to_the_batch():
    images = torch.arange(5.0).reshape(5, 1, 1, 1).expand(5, 2, 2, 3)
    (out,) = ImageFromBatch().frombatch(images, 3, 4)
    assert out[:, 0, 0, 0].tolist() == [3.0, 4.0]
    (last,) = ImageFromBatch().frombatch(images, 9, 1)
    assert last[:, 0, 0, 0].tolist() == [4.0]


def test_rebatch_latents_regroups_items_keeps_indices_and_splits_on_size_change():
    a = {"samples": torch.arange(3.0).reshape(3, 1, 1, 1).expand(3, 4, 2, 2), "batch_index": [7, 8, 9]}
    b = {"samples": torch.full((2, 4, 2, 2), 5.0), "noise_mask": torch.zeros(1, 1, 16, 16)}
    c = {"samples": torch.zeros(1, 4, 3, 3)}
    (out,) = RebatchLatents().rebatch([a, b, c], [2])
    assert [o["samples"].shape[0] for o in out] == [2, 2, 1, 1]
    assert [o["batch_index"] for o in out] == [[7, 8], [9, 0], [1], [0]]
    assert out[1]["samples"][:, 0, 0, 0].tolist() == [2.0, 5.0]
    # one input had a noise mask: every batch gets one, ones where there was none, at pixel size
    assert out[1]["noise_mask"].shape == (2, 1, 16, 16)
    assert out[1]["noise_mask"][0].min() == 1 and out[1]["noise_mask"][1].max() == 0
    assert out[3]["noise_mask"].shape == (1, 1, 24, 24)


def test_latent_arithmetic_resizes_the_second_operand():
    first = {"samples": torch.rand(2, 4, 4, 4, generator=torch.Generator().manual_seed(3)), "batch_index": [0, 1]}
    second = {"samples": torch.rand(1, 4, 2, 2, generator=torch.Generator().manual_seed(4))}
    fitted = F.interpolate(second["samples"], size=(4, 4), mode="bilinear").expand(2, 4, 4, 4)
    (added,) = LatentAdd().op(first, second)
    (subtracted,) = LatentSubtract().op(first, second)
    torch.testing.assert_close(added["samples"], first["samples"] + fitted)
    torch.testing.assert_close(subtracted["samples"], first["samples"] - fitted)
    assert added["batch_index"] == [0, 1]
    (scaled,) = LatentMultiply().op(first, -2.0)
    torch.testing.assert_close(scaled["samples"], first["samples"] * -2.0)


def test_conditioning_set_area_strength_copies_options():
    conditioning = [[torch.zeros(1, 77, 8), {"area": (8, 8, 0, 0)}]]
    (out,) = ConditioningSetAreaStrength().append(conditioning, 0.4)
    assert out[0][1] == {"area": (8, 8, 0, 0), "strength": 0.4}
    assert conditioning[0][1] == {"area": (8, 8, 0, 0)}


def resize_prompt(**inputs):
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 8, "batch_size": 1, "color": 0}},
            "2": {"class_type": "ResizeImageMaskNode", "inputs": {"input": ["1", 0], "scale_method": "area",
                                                                   **inputs}},
            "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 0]}}}


@pytest.mark.parametrize("inputs,error,name", [
    ({"resize_type": "scale dimensions", "resize_type.width": -4, "resize_type.height": 4,
      "resize_type.crop": "center"}, "value_smaller_than_min", "resize_type.width"),
    ({"resize_type": "scale dimensions", "resize_type.width": 4, "resize_type.crop": "center"},
     "required_input_missing", "resize_type.height"),
    ({"resize_type": "scale by multiplier", "resize_type.multiplier": 20.0}, "value_bigger_than_max",
     "resize_type.multiplier"),
    ({"resize_type": "scale dimensions", "resize_type.width": 4, "resize_type.height": 4,
      "resize_type.crop": "middle"}, "value_not_in_list", "resize_type.crop"),
])
def test_the_chosen_options_inputs_are_validated(inputs, error, name):
    result = validate_prompt(resize_prompt(**inputs), nodes.NODE_CLASS_MAPPINGS)
    assert not result.ok
    (entry,) = result.node_errors["2"]["errors"]
    assert entry["type"] == error and entry["extra_info"]["input_name"] == name


def test_inputs_of_options_not_chosen_are_ignored():
    prompt = resize_prompt(**{"resize_type": "scale by multiplier", "resize_type.multiplier": 0.5,
                              "resize_type.width": -4})
    assert validate_prompt(prompt, nodes.NODE_CLASS_MAPPINGS).ok
