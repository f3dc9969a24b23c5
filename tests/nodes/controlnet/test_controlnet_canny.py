"""Canny node: edges (white on black, 3 channels) exactly on the borders of shapes, thresholds and bad input."""

import pytest
import torch


def square_image(size: int = 32, low: int = 8, high: int = 24) -> torch.Tensor:
    image = torch.zeros(1, size, size, 3)
    image[:, low:high, low:high, :] = 1.0
    return image


def detect(image, low=0.4, high=0.8):
    from nodes.stages.controlnet import Canny

    return Canny().detect_edge(image, low, high)[0]


def test_edges_trace_the_border_of_a_square_and_nothing_else():
    edges = detect(square_image(), 0.1, 0.2)
    assert edges.shape == (1, 32, 32, 3)
    assert set(edges.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(edges[..., 0], edges[..., 2])
    mask = edges[0, :, :, 0].bool()
    rows, cols = torch.where(mask)
    # every edge pixel lies within one pixel of the square's outline, and every side is found
    near = torch.minimum(torch.minimum((rows - 7.5).abs(), (rows - 23.5).abs()),
                         torch.minimum((cols - 7.5).abs(), (cols - 23.5).abs()))
    assert bool((near <= 1.0).all())
    for side in (mask[10:22, 6:10], mask[10:22, 22:26], mask[6:10, 10:22], mask[22:26, 10:22]):
        assert int(side.any(dim=0).sum() + side.any(dim=1).sum()) >= 12
    assert not mask[12:20, 12:20].any() and not mask[:4].any()  # flat regions stay black


def test_higher_thresholds_keep_fewer_edges():
    image = square_image() * 0.5 + torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0)) * 0.3
    loose, strict = detect(image, 0.05, 0.1), detect(image, 0.3, 0.6)
    assert loose.sum() > strict.sum()
    assert bool((strict <= loose).all())  # hysteresis from stronger seeds keeps a subset


def test_a_flat_picture_has_no_edges_and_batches_stay_separate():
    batch = torch.cat([torch.full((1, 16, 16, 3), 0.3), square_image(16, 4, 12)])
    edges = detect(batch, 0.1, 0.2)
    assert edges[0].sum() == 0 and edges[1].sum() > 0


def test_bad_input():
    with pytest.raises(ValueError, match=r"Canny: input 'image' must be an IMAGE"):
        detect(torch.rand(16, 16))
    with pytest.raises(ValueError, match="low_threshold"):
        detect(square_image(), 0.9, 0.1)
