"""ImageStitch and RebatchImages: placement, size matching, padding, spacers, batch regrouping."""

import pytest
import torch

from nodes.stages.image_layout import ImageStitch, RebatchImages


def solid(value, height, width, batch=1, channels=3):
    return torch.full((batch, height, width, channels), float(value))


def test_stitch_right_and_up_order():
    a, b = solid(0.2, 4, 3), solid(0.8, 4, 5)
    (right,) = ImageStitch().stitch(a, "right", True, 0, "white", b)
    assert right.shape == (1, 4, 8, 3)
    assert right[0, 0, 0, 0] == pytest.approx(0.2) and right[0, 0, -1, 0] == pytest.approx(0.8, abs=1 / 255)
    (up,) = ImageStitch().stitch(a, "up", True, 0, "white", b)
    assert up.shape[1:3] == (4 + int(3 / (5 / 4)), 3)
    assert up[0, -1, 0, 0] == pytest.approx(0.2)  # image1 ends up below


def test_stitch_without_matching_pads_centred_and_adds_an_even_spacer():
    a, b = solid(0.5, 4, 2), solid(0.5, 2, 2)
    (out,) = ImageStitch().stitch(a, "right", False, 3, "red", b)
    assert out.shape == (1, 4, 2 + 4 + 2, 3)  # spacer width 3 rounded up to 4
    assert out[0, :, 6, 0].tolist() == [0.0, 0.5, 0.5, 0.0]  # padded with black for colour spacers
    assert out[0, 0, 2:6].tolist() == [[1.0, 0.0, 0.0]] * 4


def test_stitch_extends_batch_and_channels_and_passes_through_without_image2():
    a, b = solid(0.1, 2, 2, batch=3), solid(0.9, 2, 2, channels=4)
    (out,) = ImageStitch().stitch(a, "down", False, 0, "white", b)
    assert out.shape == (3, 4, 2, 4) and torch.all(out[:, :2, :, 3] == 1.0)
    assert ImageStitch().stitch(a, "down", False, 0, "white")[0] is a


def test_rebatch_regroups_all_images():
    stream = [solid(0, 2, 2, batch=3), solid(1, 2, 2, batch=2)]
    (batches,) = RebatchImages().rebatch(stream, [2])
    assert [batch.shape[0] for batch in batches] == [2, 2, 1]
    assert batches[1][:, 0, 0, 0].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="RebatchImages: input 'images'"):
        RebatchImages().rebatch([solid(0, 2, 2), solid(0, 3, 3)], [2])
