"""CFG and conditioning evaluation (spec §7.5) on a per-pixel linear stand-in UNet."""

import pytest
import torch
from sampling_fakes import cond

from runtime.sampling.guidance import Guider, predict, prepare_side


def denoised_by_hand(model, x, sigma, value):
    """What the stand-in model predicts for a context filled with `value`."""
    ms = model.model_sampling
    t = ms.timestep(sigma).float()
    eps = 0.5 * ms.calculate_input(sigma, x) + value + 0.001 * t
    return ms.calculate_denoised(sigma, eps, x)


def run(guider, x, sigma):
    guider.prepare(x.shape)
    return guider(x, sigma)


def test_cfg_mixes_cond_and_uncond_in_one_batched_call(fake_model):
    x, sigma = torch.randn(2, 4, 8, 8), torch.tensor(3.0)
    out = run(Guider(fake_model, cond(1.0), cond(-2.0), 7.5), x, sigma)
    pos, neg = denoised_by_hand(fake_model, x, sigma, 1.0), denoised_by_hand(fake_model, x, sigma, -2.0)
    assert torch.allclose(out, neg + (pos - neg) * 7.5, atol=1e-5)
    assert [c[0] for c in fake_model.calls] == [4]  # uncond and cond share one UNet call


def test_cfg_one_skips_the_negative(fake_model):
    x, sigma = torch.randn(1, 4, 8, 8), torch.tensor(1.0)
    out = run(Guider(fake_model, cond(1.0), cond(-2.0), 1.0), x, sigma)
    assert torch.allclose(out, denoised_by_hand(fake_model, x, sigma, 1.0), atol=1e-6)
    assert [c[0] for c in fake_model.calls] == [1]
    out = run(Guider(fake_model, cond(0.5)), x, sigma)
    assert torch.allclose(out, denoised_by_hand(fake_model, x, sigma, 0.5), atol=1e-6)


def test_prompts_of_different_length_batch_up_to_four_times(fake_model):
    x, sigma = torch.randn(1, 4, 8, 8), torch.tensor(2.0)
    out = run(Guider(fake_model, cond(1.0, tokens=154), cond(0.0), 2.0), x, sigma)
    assert [c[:2] for c in fake_model.calls] == [(2, 154)]
    pos, neg = denoised_by_hand(fake_model, x, sigma, 1.0), denoised_by_hand(fake_model, x, sigma, 0.0)
    assert torch.allclose(out, neg + (pos - neg) * 2.0, atol=1e-5)
    fake_model.calls.clear()
    run(Guider(fake_model, cond(1.0, tokens=77 * 5), cond(0.0), 2.0), x, sigma)
    assert sorted(c[:2] for c in fake_model.calls) == [(1, 77), (1, 385)]


def test_area_is_averaged_inside_with_a_feather_at_inner_edges(fake_model):
    x, sigma = torch.randn(1, 4, 16, 16), torch.tensor(2.0)
    positive = cond(0.0) + cond(1.0, area=(8, 8, 0, 0), strength=1.0)
    sides = [prepare_side(fake_model, positive, x.shape, "positive")]
    out = predict(fake_model, x, sigma, sides)[0]
    plain, area = denoised_by_hand(fake_model, x, sigma, 0.0), denoised_by_hand(fake_model, x, sigma, 1.0)
    assert torch.allclose(out[..., 8:, :], plain[..., 8:, :], atol=1e-5)  # outside the area
    assert torch.allclose(out[..., :6, :6], ((plain + area) / 2)[..., :6, :6], atol=1e-5)
    # rows/cols 7 are the inner edge: weight 0.5 (feather of min(8, 8 // 4) = 2 steps)
    assert torch.allclose(out[..., 7, :6], ((plain + 0.5 * area) / 1.5)[..., 7, :6], atol=1e-5)


def test_percentage_area_resolves_against_the_latent(fake_model):
    conds = prepare_side(fake_model, cond(1.0, area=("percentage", 0.5, 0.25, 0.5, 0.0)), (1, 4, 16, 32),
                         "positive")
    assert conds[0].area == (8, 8, 8, 0)


def test_mask_weights_the_prediction(fake_model):
    x, sigma = torch.randn(1, 4, 8, 8), torch.tensor(2.0)
    mask = torch.zeros(1, 32, 32)
    mask[:, :, :16] = 1.0  # left half, at image resolution: resized to the latent
    positive = cond(0.0) + cond(1.0, mask=mask, mask_strength=3.0)
    out = predict(fake_model, x, sigma, [prepare_side(fake_model, positive, x.shape, "positive")])[0]
    plain, masked = denoised_by_hand(fake_model, x, sigma, 0.0), denoised_by_hand(fake_model, x, sigma, 1.0)
    assert torch.allclose(out[..., :3], ((plain + 3 * masked) / 4)[..., :3], atol=1e-5)
    assert torch.allclose(out[..., 5:], plain[..., 5:], atol=1e-5)


def test_mask_bounds_become_the_area(fake_model):
    mask = torch.zeros(1, 64, 64)
    mask[:, 8:40, 16:48] = 1.0
    conds = prepare_side(fake_model, cond(1.0, mask=mask, set_area_to_bounds=True), (1, 4, 64, 64), "positive")
    assert conds[0].area == (32, 32, 8, 16)


def test_timestep_range_switches_an_entry_on_and_off(fake_model):
    x = torch.randn(1, 4, 8, 8)
    positive = cond(0.0) + cond(1.0, start_percent=0.5, end_percent=1.0)
    sides = [prepare_side(fake_model, positive, x.shape, "positive")]
    early, late = torch.tensor(10.0), torch.tensor(0.5)
    assert torch.allclose(predict(fake_model, x, early, sides)[0], denoised_by_hand(fake_model, x, early, 0.0),
                          atol=1e-5)
    both = (denoised_by_hand(fake_model, x, late, 0.0) + denoised_by_hand(fake_model, x, late, 1.0)) / 2
    assert torch.allclose(predict(fake_model, x, late, sides)[0], both, atol=1e-5)


def test_area_entries_get_an_opposite_on_the_other_side(fake_model):
    guider = Guider(fake_model, cond(0.0) + cond(1.0, area=(4, 4, 2, 2)), cond(-1.0), 5.0)
    guider.prepare((1, 4, 8, 8))
    negative = guider.prepared["negative"]
    assert len(negative) == 2 and negative[1].area == (4, 4, 2, 2)
    assert float(negative[1].context.mean()) == -1.0  # the negative text over the positive's area


class FakeControl:
    def __init__(self):
        self.calls, self.ran = [], []

    def pre_run(self, model):
        self.ran.append("pre_run")

    def cleanup(self):
        self.ran.append("cleanup")

    def get_control(self, x_noisy, sigma, batch, n_chunks):
        self.calls.append((x_noisy.shape[0], n_chunks, sorted(batch)))
        return {"mid": torch.full((x_noisy.shape[0], 1, 1, 1), 100.0)}


def test_control_residuals_reach_the_unet_and_are_shared_with_uncond(fake_model):
    control = FakeControl()
    positive = cond(1.0, control=control, control_apply_to_uncond=True)
    x, sigma = torch.randn(1, 4, 8, 8), torch.tensor(2.0)
    out = run(Guider(fake_model, positive, cond(0.0), 3.0), x, sigma)
    assert control.calls == [(2, 2, ["context", "extras", "timestep", "x_in"])]
    shifted = lambda v: denoised_by_hand(fake_model, x, sigma, v + 100.0)  # noqa: E731
    assert torch.allclose(out, shifted(0.0) + (shifted(1.0) - shifted(0.0)) * 3.0, atol=1e-3)


def test_bad_conditioning_is_named():
    with pytest.raises(TypeError, match="negative conditioning must be a CONDITIONING list of"):
        Guider(None, negative="oops").prepare((1, 4, 8, 8))


def test_gligen_boxes_of_the_positive_reach_a_negative_without_any():
    from runtime.sampling.guidance import share_gligen_with_uncond

    box = ("position", object(), [(1, 2)])
    positive, negative = cond(1.0, gligen=box), cond(0.0) + cond(0.0, area=(2, 2, 0, 0))
    shared = share_gligen_with_uncond(positive, negative)
    assert shared[0][1]["gligen"] is box and "gligen" not in shared[1][1]  # area entries are left alone
    assert "gligen" not in negative[0][1]  # the input lists are not changed
    own = ("position", object(), [])
    assert share_gligen_with_uncond(positive, cond(0.0, gligen=own))[0][1]["gligen"] is own
