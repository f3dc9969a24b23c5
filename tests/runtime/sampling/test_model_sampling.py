"""DiscreteSampling (SD model sampling) follows spec §7.2 and agrees with diffusers' scaled-linear table."""

import math

import pytest
import torch

from runtime.sampling.model_sampling import DiscreteSampling


def test_sigma_table_ends_match_spec():
    ms = DiscreteSampling()
    assert len(ms.sigmas) == 1000 and ms.sigmas.dtype == torch.float32
    assert ms.sigma_min == pytest.approx(0.0291672, abs=2e-7)
    assert ms.sigma_max == pytest.approx(14.614641, abs=2e-6)
    assert bool((ms.sigmas[1:] > ms.sigmas[:-1]).all())


def test_table_matches_diffusers_scaled_linear():
    from diffusers import EulerDiscreteScheduler

    sched = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    acp = sched.alphas_cumprod.double()
    diffusers_sigmas = ((1 - acp) / acp) ** 0.5
    # diffusers builds its betas in float32, we (like ComfyUI) in float64: differences stay below 1e-4 relative
    assert torch.allclose(DiscreteSampling().sigmas.double(), diffusers_sigmas, rtol=1e-4)


def test_timestep_and_sigma_are_inverse_on_the_table():
    ms = DiscreteSampling()
    t = torch.arange(0, 1000, 37)
    assert torch.equal(ms.timestep(ms.sigma(t.float())), t)
    # halfway between two entries interpolates in log space
    mid = ms.sigma(torch.tensor(10.5))
    assert float(mid) == pytest.approx(math.sqrt(float(ms.sigmas[10]) * float(ms.sigmas[11])), rel=1e-5)
    assert float(ms.sigma(torch.tensor(5000.0))) == pytest.approx(ms.sigma_max)


def test_percent_to_sigma_open_ends():
    ms = DiscreteSampling()
    assert ms.percent_to_sigma(0.0) == 999999999.9
    assert ms.percent_to_sigma(1.0) == 0.0
    assert ms.percent_to_sigma(0.5) == pytest.approx(float(ms.sigma(torch.tensor(499.5))))


def test_eps_and_v_denoising():
    torch.manual_seed(0)
    x0, noise = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    sigma = torch.tensor([2.0, 0.5])
    s = sigma.view(2, 1, 1, 1)
    x = x0 + noise * s
    eps = DiscreteSampling("eps")
    assert torch.allclose(eps.calculate_denoised(sigma, noise, x), x0, atol=1e-6)
    assert torch.allclose(eps.calculate_input(sigma, x), x / (s ** 2 + 1).sqrt())
    # v = alpha·eps − sigma_ddpm·x0 in the variance-preserving frame
    alpha, sig_vp = 1 / (s ** 2 + 1).sqrt(), s / (s ** 2 + 1).sqrt()
    v = alpha * noise - sig_vp * x0
    assert torch.allclose(DiscreteSampling("v").calculate_denoised(sigma, v, x), x0, atol=1e-5)


def test_bad_prediction_type_is_named():
    with pytest.raises(ValueError, match="prediction_type"):
        DiscreteSampling("flow")


def test_zsnr_reaches_a_huge_terminal_sigma():
    ms = DiscreteSampling(zsnr=True)
    assert ms.sigma_max > 4000 and ms.sigma_min == pytest.approx(0.0291672, rel=1e-3)


def test_x0_and_lcm_predictions():
    x, out = torch.randn(1, 4, 2, 2), torch.randn(1, 4, 2, 2)
    assert torch.equal(DiscreteSampling("x0").calculate_denoised(torch.tensor(3.0), out, x), out)
    lcm = DiscreteSampling("lcm")
    sigma = torch.tensor(2.0)
    t = float(lcm.timestep(sigma)) * 10.0
    c_skip, c_out = 0.25 / (t * t + 0.25), t / (t * t + 0.25) ** 0.5
    expected = c_out * (x - out * 2.0) + c_skip * x
    assert torch.allclose(lcm.calculate_denoised(sigma, out, x), expected, atol=1e-6)
    # near σ_min the boundary condition keeps part of the input: LCM's consistency parameterisation
    small = lcm.sigmas[0]
    assert not torch.allclose(lcm.calculate_denoised(small, out, x), x - out * small, atol=1e-4)


def test_distilled_table_keeps_every_twentieth_sigma():
    from runtime.sampling.model_sampling import DistilledDiscreteSampling

    full, distilled = DiscreteSampling(), DistilledDiscreteSampling()
    assert len(distilled.sigmas) == 50
    assert torch.equal(distilled.sigmas, full.sigmas[19::20])
    assert distilled.timestep(torch.tensor([full.sigma_max, full.sigma_min])).tolist() == [999, 19]
    assert float(distilled.sigma(torch.tensor(519.0))) == pytest.approx(float(full.sigmas[519]), rel=1e-5)
    assert distilled.percent_to_sigma(0.0) == 999999999.9
