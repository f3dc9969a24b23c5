"""ImageBlend, ImageBlur, ImageSharpen, ImageQuantize and Morphology against independent numpy/scipy computations."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from nodes.stages.image_filters import ImageBlend, ImageBlur, ImageQuantize, ImageSharpen, Morphology


def picture(seed=0, shape=(2, 9, 11, 3)):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def gaussian(size, sigma):
    axis = np.linspace(-1, 1, size)
    d2 = axis[:, None] ** 2 + axis[None, :] ** 2
    weights = np.exp(-d2 / (2 * sigma * sigma))
    return weights / weights.sum()


def convolve_mirror(image, kernel):
    """Per-channel correlation with the edge pixel not repeated (numpy 'reflect' = scipy 'mirror')."""
    out = np.empty_like(image)
    for b in range(image.shape[0]):
        for c in range(image.shape[-1]):
            out[b, ..., c] = ndimage.correlate(image[b, ..., c], kernel, mode="mirror")
    return out


@pytest.mark.parametrize("radius,sigma", [(1, 1.0), (3, 0.4)])
def test_blur_is_a_gaussian_convolution_with_mirrored_borders(radius, sigma):
    image = picture()
    (out,) = ImageBlur().blur(image, radius, sigma)
    expected = convolve_mirror(image.double().numpy(), gaussian(2 * radius + 1, sigma))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_sharpen_boosts_the_difference_from_the_blur_and_clamps():
    image = picture(1)
    (out,) = ImageSharpen().sharpen(image, 2, 1.0, 0.5)
    kernel = gaussian(5, 1.0) * -5.0
    kernel[2, 2] += 1.0 - kernel.sum()
    expected = np.clip(convolve_mirror(image.double().numpy(), kernel), 0, 1)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    assert out.min() == 0.0 and out.max() == 1.0  # strong sharpening saturates


def soft_light(a, b):
    curve = np.where(a <= 0.25, ((16 * a - 12) * a + 4) * a, np.sqrt(a))
    return np.where(b <= 0.5, a - (1 - 2 * b) * a * (1 - a), a + (2 * b - 1) * (curve - a))


FORMULAS = {"normal": lambda a, b: b, "multiply": lambda a, b: a * b, "screen": lambda a, b: 1 - (1 - a) * (1 - b),
            "overlay": lambda a, b: np.where(a <= 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b)),
            "soft_light": soft_light, "difference": lambda a, b: a - b}


@pytest.mark.parametrize("mode", sorted(FORMULAS))
def test_blend_modes(mode):
    a, b = picture(2), picture(3)
    (out,) = ImageBlend().blend_images(a, b, 0.3, mode)
    an, bn = a.double().numpy(), b.double().numpy()
    expected = np.clip(an * 0.7 + FORMULAS[mode](an, bn) * 0.3, 0, 1)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)


def test_blend_resizes_the_second_image_and_keeps_the_first_alpha():
    a = torch.cat([picture(4, (1, 8, 8, 3)), torch.full((1, 8, 8, 1), 0.25)], dim=-1)
    b = torch.full((1, 4, 4, 3), 0.5)
    (out,) = ImageBlend().blend_images(a, b, 1.0, "normal")
    assert out.shape == (1, 8, 8, 4)
    assert torch.allclose(out[..., :3], torch.full((1, 8, 8, 3), 0.5), atol=1e-6)
    assert torch.equal(out[..., 3], a[..., 3])


def test_quantize_limits_the_palette_and_keeps_exact_colours():
    two = torch.zeros(1, 6, 6, 3)
    two[:, :3] = torch.tensor([1.0, 0.0, 0.0])
    (same,) = ImageQuantize().quantize(two, 2, "none")
    assert torch.equal(same, two)
    image = picture(5, (1, 16, 16, 3))
    for dither in ("none", "floyd-steinberg", "bayer-4"):
        (out,) = ImageQuantize().quantize(image, 4, dither)
        colours = {tuple(p) for p in (out[0] * 255).round().reshape(-1, 3).tolist()}
        assert len(colours) <= 4, dither
        assert (out - image).abs().mean() < 0.25


def test_bayer_dither_differs_from_plain_quantization():
    ramp = torch.linspace(0, 1, 32).reshape(1, 1, 32, 1).expand(1, 8, 32, 3).contiguous()
    (plain,) = ImageQuantize().quantize(ramp, 2, "none")
    (dithered,) = ImageQuantize().quantize(ramp, 2, "bayer-2")
    assert not torch.equal(plain, dithered)
    # ordered dithering keeps the average brightness of the ramp closer than hard thresholding
    assert (dithered.mean() - ramp.mean()).abs() <= (plain.mean() - ramp.mean()).abs() + 1e-6


def flat_window(x, size, reduce):
    """max/min over the size×size window [i − size//2, i + size − 1 − size//2], clipped to the image."""
    out = np.empty_like(x)
    height, width = x.shape[:2]
    for i in range(height):
        for j in range(width):
            top, left = max(0, i - size // 2), max(0, j - size // 2)
            window = x[top:i + size - size // 2, left:j + size - size // 2]
            out[i, j] = reduce(window.reshape(-1, x.shape[-1]), axis=0)
    return out


@pytest.mark.parametrize("size", [3, 4, 5])
@pytest.mark.parametrize("operation", ["erode", "dilate", "open", "close", "gradient", "top_hat", "bottom_hat"])
def test_morphology_matches_flat_grey_morphology(operation, size):
    image = picture(6, (1, 10, 12, 2))
    (out,) = Morphology().process(image, operation, size)
    x = image[0].double().numpy()
    erode, dilate = (lambda v: flat_window(v, size, np.min)), (lambda v: flat_window(v, size, np.max))
    expected = {"erode": erode(x), "dilate": dilate(x), "open": dilate(erode(x)), "close": erode(dilate(x)),
                "gradient": dilate(x) - erode(x), "top_hat": x - dilate(erode(x)),
                "bottom_hat": erode(dilate(x)) - x}[operation]
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-6)


def test_odd_kernels_agree_with_scipy():
    image = picture(7, (1, 10, 12, 1))
    (out,) = Morphology().process(image, "dilate", 3)
    expected = ndimage.grey_dilation(image[0].numpy(), size=(3, 3, 1), mode="nearest")
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-6)
