"""The nine schedulers follow spec §7.3; Karras and exponential agree with diffusers."""

import math

import pytest
import torch

from runtime.sampling.model_sampling import DiscreteSampling
from runtime.sampling.names import SCHEDULER_NAMES
from runtime.sampling.schedules import (calculate_sigmas, exponential_sigmas, karras_sigmas, kl_optimal_sigmas,
                                      sdturbo_sigmas)

MS = DiscreteSampling()


def test_names_in_comfyui_order_with_simple_first():
    assert SCHEDULER_NAMES == ("simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
                               "linear_quadratic", "kl_optimal")


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
@pytest.mark.parametrize("steps", [1, 2, 7, 20])
def test_every_schedule_is_a_decreasing_float32_list_ending_in_zero(name, steps):
    sigmas = calculate_sigmas(MS, name, steps)
    assert sigmas.dtype == torch.float32 and sigmas.ndim == 1
    assert float(sigmas[-1]) == 0.0 and bool(torch.isfinite(sigmas).all())
    assert bool((sigmas[1:] <= sigmas[:-1]).all())
    if name not in ("beta", "ddim_uniform"):  # these two may merge or add steps
        assert len(sigmas) == steps + 1


def test_simple_takes_every_nth_table_entry():
    sigmas = calculate_sigmas(MS, "simple", 4)
    expected = [MS.sigmas[999], MS.sigmas[749], MS.sigmas[499], MS.sigmas[249], 0.0]
    assert torch.allclose(sigmas, torch.tensor([float(s) for s in expected]))


def test_normal_and_sgm_uniform_space_timesteps_linearly():
    normal = calculate_sigmas(MS, "normal", 4)
    t = torch.linspace(999, 0, 4)
    assert torch.allclose(normal[:-1], torch.stack([MS.sigma(v) for v in t]))
    sgm = calculate_sigmas(MS, "sgm_uniform", 4)
    t = torch.linspace(999, 0, 5)[:-1]
    assert torch.allclose(sgm[:-1], torch.stack([MS.sigma(v) for v in t]))


def test_ddim_uniform_strides_from_index_one():
    sigmas = calculate_sigmas(MS, "ddim_uniform", 10)
    expected = [float(MS.sigmas[i]) for i in range(1, 1000, 100)][::-1] + [0.0]
    assert sigmas.tolist() == pytest.approx(expected)


def test_karras_formula_and_diffusers():
    from diffusers import EulerDiscreteScheduler

    sigmas = calculate_sigmas(MS, "karras", 10)
    rho, lo, hi = 7.0, MS.sigma_min, MS.sigma_max
    ramp = torch.linspace(0, 1, 10, dtype=torch.float64)
    formula = (hi ** (1 / rho) + ramp * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    assert torch.allclose(sigmas[:-1].double(), formula, rtol=1e-5)
    ref = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    theirs = ref._convert_to_karras(torch.tensor([hi, lo]), 10)
    assert torch.allclose(sigmas[:-1], torch.as_tensor(theirs).float(), rtol=1e-5)


def test_exponential_formula_and_diffusers():
    from diffusers import EulerDiscreteScheduler

    sigmas = calculate_sigmas(MS, "exponential", 8)
    assert torch.allclose(sigmas[:-1].log().double(),
                          torch.linspace(math.log(MS.sigma_max), math.log(MS.sigma_min), 8, dtype=torch.float64),
                          atol=1e-5)
    ref = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    theirs = ref._convert_to_exponential(torch.tensor([MS.sigma_max, MS.sigma_min]), 8)
    assert torch.allclose(sigmas[:-1], torch.as_tensor(theirs).float(), rtol=1e-5)


def test_beta_uses_beta_quantiles_of_the_timestep_axis():
    from scipy.stats import beta

    sigmas = calculate_sigmas(MS, "beta", 5)
    expected_t = [round(beta.ppf(1 - k / 5, 0.6, 0.6) * 999) for k in range(5)]
    assert sigmas[:-1].tolist() == pytest.approx([float(MS.sigmas[t]) for t in expected_t])


def test_linear_quadratic_reaches_zero_smoothly():
    sigmas = calculate_sigmas(MS, "linear_quadratic", 10)
    fractions = 1 - sigmas / MS.sigma_max  # the noise "progress" curve, 0 → 1
    assert float(fractions[0]) == pytest.approx(0.0) and float(fractions[-1]) == pytest.approx(1.0)
    assert float(fractions[5]) == pytest.approx(0.025, abs=1e-6)  # the linear part ends at the threshold
    slope = 0.025 / 5
    assert float(fractions[4]) == pytest.approx(4 * slope, abs=1e-6)
    assert calculate_sigmas(MS, "linear_quadratic", 1).tolist() == pytest.approx([MS.sigma_max, 0.0])


def test_kl_optimal_is_uniform_in_arctan():
    sigmas = kl_optimal_sigmas(6, 0.03, 14.6)
    angles = sigmas[:-1].double().atan()
    assert torch.allclose(angles, torch.linspace(math.atan(14.6), math.atan(0.03), 6, dtype=torch.float64),
                          atol=1e-6)
    assert kl_optimal_sigmas(1, 0.03, 14.6).tolist() == pytest.approx([14.6, 0.0])


def test_explicit_range_schedules():
    assert karras_sigmas(3, 0.1, 10.0)[0] == pytest.approx(10.0)
    assert exponential_sigmas(3, 0.1, 10.0).tolist() == pytest.approx([10.0, 1.0, 0.1, 0.0], rel=1e-5)


def test_sdturbo_timesteps():
    sigmas = sdturbo_sigmas(MS, 2, 1.0)
    assert sigmas.tolist() == pytest.approx([float(MS.sigmas[999]), float(MS.sigmas[899]), 0.0])
    assert sdturbo_sigmas(MS, 1, 0.5).tolist() == pytest.approx([float(MS.sigmas[499]), 0.0])


def test_unknown_scheduler_names_the_choices():
    with pytest.raises(ValueError, match="unknown scheduler 'fancy'.*karras"):
        calculate_sigmas(MS, "fancy", 10)
