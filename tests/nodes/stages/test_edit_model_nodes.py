"""Kontext's nodes: ReferenceLatent chains reference latents onto a conditioning, FluxKontextImageScale picks the
preferred size nearest the picture's aspect ratio, FluxKontextMultiReferenceLatentMethod names the placement."""

import pytest
import torch

from nodes.stages.edit_models import (FluxKontextImageScale, FluxKontextMultiReferenceLatentMethod, ReferenceLatent,
                                      kontext_size)


def conditioning():
    return [[torch.zeros(1, 4, 8), {"pooled_output": torch.ones(1, 8)}], [torch.ones(1, 4, 8), {}]]


def test_reference_latents_chain_onto_every_entry_and_leave_the_input_alone():
    first, second = {"samples": torch.zeros(1, 16, 4, 4)}, {"samples": torch.ones(1, 16, 2, 6)}
    original = conditioning()
    (once,) = ReferenceLatent().append(original, first)
    (twice,) = ReferenceLatent().append(once, second)
    for entry in twice:
        assert [t.shape for t in entry[1]["reference_latents"]] == [(1, 16, 4, 4), (1, 16, 2, 6)]
    assert "reference_latents" not in original[0][1] and len(once[0][1]["reference_latents"]) == 1
    assert torch.equal(twice[0][1]["pooled_output"], torch.ones(1, 8))
    assert ReferenceLatent().append(original)[0] is original  # no latent: unchanged
    with pytest.raises(ValueError, match="ReferenceLatent: input 'latent' must be a LATENT"):
        ReferenceLatent().append(original, torch.zeros(1, 16, 4, 4))


@pytest.mark.parametrize("width, height, expected", [(1024, 1024, (1024, 1024)), (1000, 600, (1328, 800)),
                                                     (600, 1000, (800, 1328)), (4000, 1000, (1568, 672)),
                                                     (900, 800, (1104, 944))])
def test_kontext_size_is_the_nearest_aspect_ratio(width, height, expected):
    assert kontext_size(width, height) == expected


def test_the_image_is_resized_with_a_centre_crop_to_that_size():
    image = torch.rand(2, 30, 50, 3, generator=torch.Generator().manual_seed(0))
    (scaled,) = FluxKontextImageScale().scale(image)
    assert scaled.shape == (2, 800, 1328, 3) and scaled.dtype == torch.float32
    assert 0.0 <= float(scaled.min()) and float(scaled.max()) <= 1.0


def test_the_reference_method_is_set_and_uxo_uno_is_one_placement():
    (out,) = FluxKontextMultiReferenceLatentMethod().append(conditioning(), "uxo/uno")
    assert [options["reference_latents_method"] for _, options in out] == ["uxo", "uxo"]
    with pytest.raises(ValueError, match="reference_latents_method' must be one of offset, index"):
        FluxKontextMultiReferenceLatentMethod().append(conditioning(), "sideways")
