"""Mask nodes (spec §8.7): values, window arithmetic, dilation footprints, feathering ramps, conversions."""

import pytest
import torch

from nodes.stages import mask as M


def dot(size=7, row=3, col=3):
    mask = torch.zeros(1, size, size)
    mask[0, row, col] = 1.0
    return mask


def test_solid_and_invert():
    (solid,) = M.SolidMask().solid(0.25, width=3, height=2)
    assert solid.shape == (1, 2, 3) and torch.all(solid == 0.25)
    assert torch.all(M.InvertMask().invert(solid)[0] == 0.75)


@pytest.mark.parametrize("operation, expected", [
    ("multiply", [0.42, 0.0]), ("add", [1.0, 0.6]), ("subtract", [0.0, 0.6]),
    ("and", [1.0, 0.0]), ("or", [1.0, 1.0]), ("xor", [0.0, 1.0])])
def test_composite_operations_in_the_window(operation, expected):
    destination = torch.tensor([[[0.6, 0.6, 0.6]]])
    source = torch.tensor([[[0.7, 0.0]]])
    (out,) = M.MaskComposite().combine(destination, source, x=1, y=0, operation=operation)
    assert out[0, 0, 0] == pytest.approx(0.6)  # outside the window
    assert out[0, 0, 1:].tolist() == pytest.approx(expected)


def test_composite_outside_the_destination_changes_nothing():
    destination = torch.full((1, 2, 2), 0.5)
    (out,) = M.MaskComposite().combine(destination, torch.ones(1, 2, 2), x=5, y=0, operation="add")
    assert torch.equal(out, destination)


def test_grow_uses_a_cross_when_tapered_and_a_square_otherwise():
    (cross,) = M.GrowMask().expand_mask(dot(), expand=1, tapered_corners=True)
    (square,) = M.GrowMask().expand_mask(dot(), expand=1, tapered_corners=False)
    assert cross.sum() == 5 and cross[0, 2, 2] == 0 and cross[0, 2, 3] == 1
    assert square.sum() == 9 and square[0, 2, 2] == 1
    (diamond,) = M.GrowMask().expand_mask(dot(), expand=2, tapered_corners=True)
    assert diamond.sum() == 13


def test_negative_grow_erodes_and_edges_do_not_erode_from_outside():
    block = torch.zeros(1, 6, 6)
    block[0, :4, :4] = 1.0
    (out,) = M.GrowMask().expand_mask(block, expand=-1, tapered_corners=False)
    expected = torch.zeros(1, 6, 6)
    expected[0, :3, :3] = 1.0  # the border with the image edge stays, the inner border goes
    assert torch.equal(out, expected)


def test_feather_ramps_linearly_to_each_edge():
    (out,) = M.FeatherMask().feather(torch.ones(1, 4, 6), left=2, top=0, right=3, bottom=1)
    assert out[0, 0].tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0, 2 / 3, 1 / 3])
    assert out[0, :, 2].tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0 * 1.0])
    assert out[0, 3, 0] == pytest.approx(0.5)  # bottom=1 ramps the last row by 1/1


def test_image_mask_conversions():
    image = torch.rand(2, 3, 4, 3)
    (green,) = M.ImageToMask().image_to_mask(image, "green")
    assert torch.equal(green, image[..., 1])
    with pytest.raises(ValueError, match="ImageToMask: input 'image' has 3 channels.*alpha"):
        M.ImageToMask().image_to_mask(image, "alpha")
    (grey,) = M.MaskToImage().mask_to_image(green)
    assert grey.shape == (2, 3, 4, 3) and torch.equal(grey[..., 2], green)


def test_color_to_mask_crop_and_threshold():
    image = torch.zeros(1, 2, 2, 3)
    image[0, 0, 1] = torch.tensor([1.0, 128 / 255, 0.0])
    (picked,) = M.ImageColorToMask().image_to_mask(image, 0xFF8000)
    assert picked[0].tolist() == [[0, 1], [0, 0]]
    (cropped,) = M.CropMask().crop(torch.arange(16.0).reshape(4, 4), x=1, y=2, width=2, height=5)
    assert cropped.tolist() == [[[9, 10], [13, 14]]]
    (binary,) = M.ThresholdMask().threshold(torch.tensor([[[0.2, 0.5, 0.7]]]), 0.5)
    assert binary.tolist() == [[[0, 0, 1]]]


def test_mask_preview_saves_a_grey_image_to_temp(folders):
    (entry,) = M.MaskPreview().preview(torch.ones(1, 3, 3))["ui"]["images"]
    assert entry["type"] == "temp" and (folders.temp_dir / entry["filename"]).is_file()
