"""Latent nodes: shapes, resizing rules, batch bookkeeping, compositing and masks (spec §8.4)."""

import pytest
import torch

from nodes.stages import latent as L


def latent(batch=1, height=8, width=8, channels=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {"samples": torch.randn(batch, channels, height, width, generator=generator)}


def test_empty_latent_is_zeros_at_one_eighth_size():
    (out,) = L.EmptyLatentImage().generate(width=200, height=64, batch_size=3)
    assert out["samples"].shape == (3, 4, 8, 25)
    assert out["samples"].abs().sum() == 0


def test_upscale_with_both_sides_zero_returns_the_input():
    source = latent()
    assert L.LatentUpscale().upscale(source, "bilinear", 0, 0, "disabled")[0] is source


def test_upscale_with_one_side_zero_keeps_aspect_and_minimum_64_pixels():
    source = latent(height=8, width=16)  # 64 x 128 pixels
    (out,) = L.LatentUpscale().upscale(source, "nearest-exact", 0, 128, "disabled")
    assert out["samples"].shape[-2:] == (16, 32)
    (small,) = L.LatentUpscale().upscale(source, "nearest-exact", 16, 16, "disabled")
    assert small["samples"].shape[-2:] == (8, 8)  # both sides clamped to 64 pixels


def test_upscale_nearest_exact_doubles_each_cell_and_keeps_noise_mask():
    source = latent(height=4, width=5)
    source["noise_mask"] = torch.ones(1, 1, 4, 5)
    (out,) = L.LatentUpscale().upscale(source, "nearest-exact", 80, 64, "disabled")
    expected = source["samples"].repeat_interleave(2, -1).repeat_interleave(2, -2)
    assert torch.equal(out["samples"], expected)
    assert out["noise_mask"] is source["noise_mask"]
    assert "noise_mask" in source and source["samples"].shape[-1] == 5  # input untouched


def test_upscale_center_crop_cuts_the_long_side():
    source = latent(height=8, width=16)
    (out,) = L.LatentUpscale().upscale(source, "nearest-exact", 64, 64, "center")
    assert torch.equal(out["samples"], source["samples"][..., 4:12])


def test_upscale_by_rounds_each_side():
    (out,) = L.LatentUpscaleBy().upscale(latent(height=5, width=7), "bilinear", 1.5)
    assert out["samples"].shape[-2:] == (round(7.5), round(10.5))


def test_from_batch_slices_and_records_batch_index():
    source = latent(batch=4)
    source["noise_mask"] = torch.rand(2, 1, 8, 8)
    (out,) = L.LatentFromBatch().frombatch(source, batch_index=1, length=5)
    assert torch.equal(out["samples"], source["samples"][1:4])
    assert out["batch_index"] == [1, 2, 3]
    cycled = torch.cat([source["noise_mask"], source["noise_mask"]])
    assert torch.equal(out["noise_mask"], cycled[1:4])
    (again,) = L.LatentFromBatch().frombatch(out, batch_index=1, length=1)
    assert again["batch_index"] == [2]


def test_repeat_batch_continues_batch_index():
    source = latent(batch=2)
    source["batch_index"] = [4, 5]
    (out,) = L.RepeatLatentBatch().repeat(source, amount=3)
    assert out["samples"].shape[0] == 6
    assert torch.equal(out["samples"][2:4], source["samples"])
    assert out["batch_index"] == [4, 5, 6, 7, 8, 9]


def test_composite_pastes_at_pixel_offset():
    to, src = latent(height=8, width=8, seed=1), latent(height=4, width=4, seed=2)
    (out,) = L.LatentComposite().composite(to, src, x=16, y=40, feather=0)
    expected = to["samples"].clone()
    expected[:, :, 5:8, 2:6] = src["samples"][:, :, :3, :]
    assert torch.equal(out["samples"], expected)


def test_composite_feathers_only_inner_edges():
    to = {"samples": torch.zeros(1, 4, 8, 8)}
    src = {"samples": torch.ones(1, 4, 4, 4)}
    (out,) = L.LatentComposite().composite(to, src, x=16, y=0, feather=16)
    window = out["samples"][0, 0, 0:4, 2:6]
    # top edge touches the border (no feather); left/right ramp 1/2, 2/2; bottom inner edge too.
    assert window[0].tolist() == [0.5, 1.0, 1.0, 0.5]
    assert window[:, 1].tolist() == [1.0, 1.0, 1.0, 0.5]


def test_composite_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="LatentComposite.*samples_from.*channels"):
        L.LatentComposite().composite(latent(), latent(channels=16), 0, 0, 0)


def test_blend_mixes_and_resizes_the_second():
    a, b = latent(seed=1), latent(seed=2)
    (out,) = L.LatentBlend().blend(a, b, 0.25)
    assert torch.allclose(out["samples"], a["samples"] * 0.25 + b["samples"] * 0.75)
    (resized,) = L.LatentBlend().blend(a, {"samples": torch.ones(1, 4, 4, 4)}, 0.5)
    assert torch.allclose(resized["samples"], a["samples"] * 0.5 + 0.5)


def test_set_noise_mask_reshapes_and_leaves_input_alone():
    source = latent(batch=2)
    (out,) = L.SetLatentNoiseMask().set_mask(source, torch.ones(2, 64, 64))
    assert out["noise_mask"].shape == (2, 1, 64, 64)
    assert "noise_mask" not in source


def test_composite_masked_uses_mask_in_latent_cells():
    to = {"samples": torch.zeros(1, 4, 4, 4)}
    src = {"samples": torch.ones(1, 4, 4, 4)}
    mask = torch.zeros(1, 4, 4)
    mask[:, :, 2:] = 1.0
    (out,) = L.LatentCompositeMasked().composite(to, src, x=8, y=0, resize_source=False, mask=mask)
    assert out["samples"][0, 0].tolist() == [[0, 0, 0, 1]] * 4


def test_rotate_flip_and_crop():
    samples = torch.arange(6.0).reshape(1, 1, 2, 3)
    (turned,) = L.LatentRotate().rotate({"samples": samples}, "90 degrees")
    assert turned["samples"][0, 0].tolist() == [[3, 0], [4, 1], [5, 2]]  # clockwise
    (back,) = L.LatentRotate().rotate(turned, "270 degrees")
    assert torch.equal(back["samples"], samples)
    (mirrored,) = L.LatentFlip().flip({"samples": samples}, "y-axis: horizontally")
    assert mirrored["samples"][0, 0].tolist() == [[2, 1, 0], [5, 4, 3]]
    big = latent(height=16, width=16)
    (cropped,) = L.LatentCrop().crop(big, width=64, height=64, x=200, y=8)
    assert torch.equal(cropped["samples"], big["samples"][:, :, 1:9, 8:16])  # x clamped to keep 8 cells
