"""The rule-based evaluator reads colour, background, shape, position and mask right on clean and degraded pictures."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tools.toymodel import domain, evaluate

SIZES = (32, 48, 64)
PER_SIZE = 400  # 1200 pictures per condition


def vae_like(image: np.ndarray, seed: int) -> np.ndarray:
    """A mild blur plus noise, about what a VAE round trip does to these pictures."""
    blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0, 4, image.shape)
    return np.clip(blurred + noise, 0, 255).astype(np.uint8)


def score(config_for_size, degrade: bool):
    right, total, ious = {}, {}, []
    for size in SIZES:
        for index, s in enumerate(domain.batch(size, 0, PER_SIZE, config_for_size(size))):
            judgement = evaluate.judge(vae_like(s.image, index) if degrade else s.image)
            for attribute, ok in judgement.matches(s.spec).items():
                right[attribute] = right.get(attribute, 0) + ok
                total[attribute] = total.get(attribute, 0) + 1
            ious.append((judgement.mask & s.mask).sum() / (judgement.mask | s.mask).sum())
    return {a: right[a] / total[a] for a in total}, total, np.asarray(ious)


def all_shapes(size):
    return domain.DomainConfig(size=size, shapes=domain.ALL_SHAPES, position_prob=0.7)


@pytest.mark.parametrize("degrade", [False, True], ids=["clean", "blur+noise"])
def test_every_attribute_is_right_on_at_least_99_percent(degrade):
    accuracy, total, ious = score(all_shapes, degrade)
    assert total["shape"] == 1200 and total["position"] > 700
    assert min(accuracy.values()) >= 0.99, accuracy
    assert ious.mean() >= (0.97 if not degrade else 0.95) and np.percentile(ious, 1) >= 0.8


def test_stripes_are_detected_on_round_and_square_shapes():
    def striped(size):
        return domain.DomainConfig(size=size, shapes=("circle", "square"), striped_prob=0.5)

    accuracy, total, _ = score(striped, degrade=False)
    assert accuracy["striped"] >= 0.99 and accuracy["colour"] >= 0.99 and accuracy["background"] >= 0.99


def test_a_plain_picture_has_no_shape_and_float_input_is_read_like_bytes():
    blank = np.full((32, 32, 3), 128, np.uint8)
    judgement = evaluate.judge(blank)
    assert judgement.background == "gray" and judgement.shape is None and not judgement.mask.any()
    s = domain.sample(0, 1)
    assert evaluate.judge(s.image.astype(np.float32) / 255).matches(s.spec) == evaluate.judge(s.image).matches(s.spec)


def test_a_wrong_shaped_array_is_rejected_with_its_shape():
    with pytest.raises(ValueError, match=r"expected an RGB image \[H, W, 3\], got shape \(32, 32\)"):
        evaluate.judge(np.zeros((32, 32)))


def test_arbitrary_pictures_get_a_verdict_without_errors():
    """Pictures a half-trained model makes (noise, blobs, gradients) are judged, never crash the evaluator."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 32)[None, :, None] * np.ones((32, 1, 3))
    pictures = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(20)]
    pictures += [np.asarray(Image.fromarray(p).resize((4, 4)).resize((32, 32), Image.BILINEAR)) for p in pictures]
    pictures += [ramp.astype(np.uint8), np.zeros((32, 32, 3), np.uint8), np.full((48, 48, 3), 255, np.uint8)]
    for picture in pictures:
        judgement = evaluate.judge(picture)
        assert judgement.colour in domain.SHAPE_COLOURS and judgement.background in domain.BACKGROUND_COLOURS
        assert judgement.shape in (None, *domain.ALL_SHAPES) and judgement.position in (None, *domain.POSITIONS)
        assert judgement.mask.shape == picture.shape[:2]


@pytest.mark.parametrize("degrade", [False, True], ids=["clean", "blur+noise"])
def test_huge_shapes_are_told_from_the_base_sizes(degrade):
    def huge(size):
        return domain.DomainConfig(size=size, huge_prob=0.5)

    accuracy, total, _ = score(huge, degrade)
    assert min(accuracy[a] for a in ("huge", "colour", "background", "shape")) >= 0.99, accuracy
