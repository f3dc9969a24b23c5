"""Resampling: ComfyUI's upscale methods and centre crop on [B,C,H,W] tensors."""

import numpy as np
import pytest
import torch
from PIL import Image

from runtime.imaging.resample import bislerp, center_crop_to_aspect, repeat_to_batch, upscale


def test_bislerp_keeps_unit_norm_between_orthogonal_neighbours():
    samples = torch.zeros(1, 2, 1, 2)
    samples[0, 0, 0, 0] = 1.0  # left cell points along channel 0
    samples[0, 1, 0, 1] = 1.0  # right cell along channel 1
    out = bislerp(samples, 4, 1)
    norms = out.norm(dim=1)
    assert out.shape == (1, 2, 1, 4)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    lerp = torch.nn.functional.interpolate(samples, size=(1, 4), mode="bilinear").norm(dim=1)
    assert lerp.min() < 0.9  # a plain lerp shrinks the norm in between


def test_bislerp_matches_bilinear_on_parallel_vectors_of_equal_norm_and_scales_both_axes():
    samples = torch.rand(2, 4, 3, 5) + 0.1
    constant_direction = samples[:, :1].expand(-1, 4, -1, -1) * 0 + 1.0  # all cells the same vector
    out = bislerp(constant_direction, 10, 6)
    assert out.shape == (2, 4, 6, 10)
    assert torch.allclose(out, torch.ones_like(out))
    assert torch.isfinite(bislerp(samples, 7, 9)).all()


def test_torch_modes_and_center_crop():
    samples = torch.arange(24, dtype=torch.float32).reshape(1, 1, 4, 6)
    assert torch.equal(center_crop_to_aspect(samples, 4, 4), samples[..., 1:5])
    assert torch.equal(upscale(samples, 3, 2, "area"), torch.nn.functional.avg_pool2d(samples, 2))
    with pytest.raises(ValueError, match="upscale_method"):
        upscale(samples, 3, 2, "cubic-ish")


def test_lanczos_equals_pillow_on_eight_bit_pixels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
    image = torch.from_numpy(pixels.astype(np.float32) / 255.0).movedim(-1, 0).unsqueeze(0)
    out = upscale(image, 14, 20, "lanczos")
    reference = np.asarray(Image.fromarray(pixels).resize((14, 20), Image.Resampling.LANCZOS), dtype=np.float32)
    assert torch.allclose(out[0].movedim(0, -1), torch.from_numpy(reference / 255.0), atol=1e-6)


def test_repeat_to_batch_cycles_and_cuts():
    items = torch.arange(2).reshape(2, 1)
    assert repeat_to_batch(items, 5).flatten().tolist() == [0, 1, 0, 1, 0]
    assert repeat_to_batch(items, 1).flatten().tolist() == [0]
