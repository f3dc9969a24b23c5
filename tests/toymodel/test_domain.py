"""The synthetic domain is deterministic, captions what it draws, and puts phrase-placed shapes in their region."""

import numpy as np
import pytest

from tools.toymodel import domain


def test_same_seed_and_index_give_the_same_picture_and_other_seeds_differ():
    a, b, c = domain.sample(3, 7), domain.sample(3, 7), domain.sample(4, 7)
    assert a.spec == b.spec and np.array_equal(a.image, b.image)
    assert a.spec != c.spec


def test_caption_names_colour_shape_background_and_position():
    spec = domain.ShapeSpec("circle", "red", "blue", 0.4, (0.25, 0.25), "top left")
    assert spec.caption == "a red circle on a blue background in the top left"
    assert domain.ShapeSpec("star", "white", "black", 0.4, (0.5, 0.5), "center", striped=True).caption == (
        "a white striped star on a black background in the center"
    )
    assert domain.ShapeSpec("square", "green", "gray", 0.4, (0.3, 0.6)).caption == "a green square on a gray background"


def test_pixels_are_shape_colour_inside_the_mask_and_background_outside():
    s = domain.render(domain.ShapeSpec("square", "orange", "gray", 0.5, (0.5, 0.5)), 32)
    assert s.mask.sum() == 16 * 16
    assert (s.image[s.mask] == domain.SHAPE_COLOURS["orange"]).all()
    assert (s.image[~s.mask] == domain.BACKGROUND_COLOURS["gray"]).all()
    assert (s.control[s.mask] == 255).all() and (s.control[~s.mask] == 0).all()


@pytest.mark.parametrize("shape,fill", [("circle", np.pi / 4), ("square", 1.0), ("triangle", 0.5), ("star", 0.31)])
def test_shape_area_matches_its_geometry(shape, fill):
    coverage = domain.shape_coverage(shape, 0.5, (0.5, 0.5), 64)
    assert coverage.sum() == pytest.approx(fill * 32 * 32, rel=0.04)


def test_every_sample_has_distinct_colours_and_phrase_placed_shapes_sit_in_their_region():
    config = domain.DomainConfig(shapes=domain.ALL_SHAPES, position_prob=0.8, striped_prob=0.2)
    for s in domain.batch(0, 0, 500, config):
        assert s.spec.colour != s.spec.background
        half = s.spec.extent / 2
        assert all(half - 1e-6 <= c <= 1 - half + 1e-6 for c in s.spec.center)
        if s.spec.position:
            assert domain.position_of(s.spec.center) == s.spec.position


def test_striped_shapes_keep_a_filled_mask_but_paint_only_bars():
    spec = domain.ShapeSpec("square", "red", "black", 0.5, (0.5, 0.5), striped=True)
    s = domain.render(spec, 32)
    painted = (s.image != domain.BACKGROUND_COLOURS["black"]).any(axis=2)
    assert s.mask.sum() == 256 and 0.55 < painted.sum() / 256 < 0.8


def test_bad_configuration_is_rejected_with_the_reason():
    with pytest.raises(ValueError, match="unknown or empty shape"):
        domain.DomainConfig(shapes=("hexagon",))
    with pytest.raises(ValueError, match="no background differs"):
        domain.sample_spec(np.random.default_rng(0), domain.DomainConfig(colours=("red",), backgrounds=("red",)))
