"""Conditioning nodes (spec §8.3): new lists with copied options, values as ComfyUI sets them."""

import subprocess
import sys

import pytest
import torch

from nodes.stages import conditioning as c


def entry(value, tokens=77, **options):
    return [torch.full((1, tokens, 4), float(value)), options]


def test_stage_modules_import_without_torch():
    code = "import sys, nodes.stages.sampling, nodes.stages.conditioning; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_combine_concatenates_the_lists():
    a, b = [entry(1)], [entry(2), entry(3)]
    assert c.ConditioningCombine().combine(a, b)[0] == a + b


def test_average_lerps_tokens_and_pooled_with_the_first_from_entry():
    to = [entry(1.0, pooled_output=torch.ones(1, 3))]
    src = [entry(3.0, tokens=40, pooled_output=torch.full((1, 3), 5.0)), entry(100.0)]
    (out,) = c.ConditioningAverage().addWeighted(to, src, 0.25)
    tokens = out[0][0]
    assert tokens.shape == (1, 77, 4)
    assert torch.allclose(tokens[:, :40], torch.full((1, 40, 4), 0.25 * 1 + 0.75 * 3))
    assert torch.allclose(tokens[:, 40:], torch.full((1, 37, 4), 0.25))  # `from` zero-padded
    assert torch.allclose(out[0][1]["pooled_output"], torch.full((1, 3), 0.25 + 0.75 * 5))
    assert "pooled_output" in to[0][1] and float(to[0][1]["pooled_output"][0, 0]) == 1.0  # input untouched
    assert "ConditioningAverage" not in c.NODE_DISPLAY_NAME_MAPPINGS  # ComfyUI shows the class name


def test_concat_appends_tokens():
    (out,) = c.ConditioningConcat().concat([entry(1.0, a=1)], [entry(2.0, tokens=10)])
    assert out[0][0].shape == (1, 87, 4) and out[0][1] == {"a": 1}
    with pytest.raises(ValueError, match="ConditioningConcat: input 'conditioning_from' is empty"):
        c.ConditioningConcat().concat([entry(1.0)], [])


def test_areas_in_latent_units_and_percentages():
    (out,) = c.ConditioningSetArea().append([entry(1)], 256, 128, 64, 32, 0.8)
    assert out[0][1] == {"area": (16, 32, 4, 8), "strength": 0.8, "set_area_to_bounds": False}
    (out,) = c.ConditioningSetAreaPercentage().append([entry(1)], 0.5, 0.25, 0.1, 0.2, 1.0)
    assert out[0][1]["area"] == ("percentage", 0.25, 0.5, 0.2, 0.1)


def test_mask_options():
    mask = torch.ones(8, 8)
    (out,) = c.ConditioningSetMask().append([entry(1)], mask, 0.5, "mask bounds")
    assert out[0][1]["mask"].shape == (1, 8, 8)
    assert out[0][1]["set_area_to_bounds"] is True and out[0][1]["mask_strength"] == 0.5


def test_zero_out_and_timestep_range():
    (out,) = c.ConditioningZeroOut().zero_out([entry(3.0, pooled_output=torch.ones(1, 3))])
    assert not out[0][0].any() and not out[0][1]["pooled_output"].any()
    (out,) = c.ConditioningSetTimestepRange().set_range([entry(1)], 0.2, 0.7)
    assert out[0][1] == {"start_percent": 0.2, "end_percent": 0.7}
