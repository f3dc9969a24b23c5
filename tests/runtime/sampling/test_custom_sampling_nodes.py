"""The parameterised sampler nodes, extra schedules and SIGMAS editing nodes."""

import math

import pytest
import torch
from sampling_fakes import cond

from runtime.sampling.model_sampling import DiscreteSampling
from runtime.sampling.schedules import calculate_sigmas, exponential_sigmas
from nodes.stages import custom_sampling as c

SIGMAS = calculate_sigmas(DiscreteSampling(), "karras", 5)


def sample(model, sampler, seed=9):
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    return c.SamplerCustom().sample(model, True, seed, 3.0, cond(0.2), cond(-0.2), sampler, SIGMAS, latent)[0][
        "samples"]


def select(name):
    return c.KSamplerSelect().get_sampler(name)[0]


@pytest.mark.parametrize("node, args, same_as", [
    (c.SamplerEulerAncestral, (1.0, 1.0), "euler_ancestral"),
    (c.SamplerEulerAncestral, (0.0, 1.0), "euler"),  # no ancestral noise: plain Euler
    (c.SamplerDPMPP_2S_Ancestral, (1.0, 1.0), "dpmpp_2s_ancestral"),
    (c.SamplerLMS, (4,), "lms"),
    (c.SamplerDPMPP_SDE, (1.0, 1.0, 0.5, "cpu"), "dpmpp_sde"),
    (c.SamplerDPMPP_2M_SDE, ("heun", 1.0, 1.0, "cpu"), "dpmpp_2m_sde_heun"),
    (c.SamplerDPMPP_2M_SDE, ("midpoint", 1.0, 1.0, "gpu"), "dpmpp_2m_sde_gpu"),
    (c.SamplerDPMPP_3M_SDE, (1.0, 1.0, "cpu"), "dpmpp_3m_sde"),
])
def test_parameterised_samplers_at_defaults_equal_the_named_ones(fake_model, node, args, same_as):
    (sampler,) = node().get_sampler(*args)
    assert torch.allclose(sample(fake_model, sampler), sample(fake_model, select(same_as)), atol=1e-5)


def test_sampler_parameters_change_the_result(fake_model):
    (quiet,) = c.SamplerDPMPP_2M_SDE().get_sampler("midpoint", 0.5, 1.0, "cpu")
    assert not torch.allclose(sample(fake_model, quiet), sample(fake_model, select("dpmpp_2m_sde")), atol=1e-3)


def test_extra_schedules():
    (poly,) = c.PolyexponentialScheduler().get_sigmas(6, 14.6, 0.03, 1.0)
    assert torch.allclose(poly, exponential_sigmas(6, 0.03, 14.6), rtol=1e-5)
    (laplace,) = c.LaplaceScheduler().get_sigmas(5, 14.6, 0.03, 0.0, 0.5)
    assert len(laplace) == 5 and float(laplace[-1]) == pytest.approx(0.03) and float(laplace[0]) == pytest.approx(14.6)
    assert float(laplace[2]) == pytest.approx(1.0)  # the median quantile: e^mu
    (vp,) = c.VPScheduler().get_sigmas(4, 19.9, 0.1, 0.001)
    assert float(vp[0]) == pytest.approx(math.sqrt(math.exp(19.9 / 2 + 0.1) - 1), rel=1e-5) and float(vp[-1]) == 0
    model = type("Model", (), {"model_sampling": DiscreteSampling()})()
    (beta,) = c.BetaSamplingScheduler().get_sigmas(model, 7, 0.6, 0.6)
    assert torch.equal(beta, calculate_sigmas(model.model_sampling, "beta", 7))


def test_sigma_editing():
    sigmas = torch.arange(10, -1, -1).float()  # 10 steps
    high, low = c.SplitSigmasDenoise().get_sigmas(sigmas, 0.3)
    assert low.tolist() == [3.0, 2.0, 1.0, 0.0] and high[-1] == low[0] and len(high) == 8
    high, low = c.SplitSigmasDenoise().get_sigmas(sigmas, 0.0)
    assert len(high) == 0 and low.tolist() == [0.0]  # ComfyUI's edge case
    (flipped,) = c.FlipSigmas().get_sigmas(sigmas)
    assert float(flipped[0]) == pytest.approx(0.0001) and float(flipped[-1]) == 10.0
    (first,) = c.SetFirstSigma().set_first_sigma(sigmas, 136.0)
    assert float(first[0]) == 136.0 and float(sigmas[0]) == 10.0


def test_manual_sigmas_and_percent_to_sigma(fake_model):
    (sigmas,) = c.ManualSigmas().get_sigmas("14.6, 7,3.5 ; 1e-1 0")
    assert sigmas.tolist() == pytest.approx([14.6, 7.0, 3.5, 0.1, 0.0])
    with pytest.raises(ValueError, match="ManualSigmas: input 'sigmas' holds no numbers"):
        c.ManualSigmas().get_sigmas("none")
    ms = fake_model.model_sampling
    assert c.SamplingPercentToSigma().get_sigma(fake_model, 0.5, False)[0] == ms.percent_to_sigma(0.5)
    assert c.SamplingPercentToSigma().get_sigma(fake_model, 0.0, False)[0] == 999999999.9
    assert c.SamplingPercentToSigma().get_sigma(fake_model, 0.0, True)[0] == ms.sigma_max


def test_add_noise_scales_seeded_noise_by_the_sigma_span(fake_model):
    latent = {"samples": torch.ones(1, 4, 8, 8), "batch_index": [1]}
    noise = c.RandomNoise().get_noise(3)[0]
    (out,) = c.AddNoise().add_noise(fake_model, noise, torch.tensor([5.0, 2.0, 1.0]), latent)
    expected = (0.18215 + noise.generate_noise(latent) * 4.0) / 0.18215
    assert torch.allclose(out["samples"], expected, atol=1e-4) and out["batch_index"] == [1]
    assert c.AddNoise().add_noise(fake_model, noise, torch.zeros(0), latent)[0] is latent


def test_extend_intermediate_sigmas():
    sigmas = torch.tensor([14.0, 10.0, 4.0, 0.0])
    (out,) = c.ExtendIntermediateSigmas().extend(sigmas, 2, -1.0, 5.0, "linear")
    assert out.tolist() == pytest.approx([14.0, 12.0, 10.0, 7.0, 4.0, 0.0])
    (eased,) = c.ExtendIntermediateSigmas().extend(sigmas, 3, 12.0, 0.0, "cosine")
    assert len(eased) == 8 and float(eased[0]) == 14.0  # 14 is above start_at_sigma: not extended


def test_dual_cfg_guider(fake_model):
    from test_guidance import denoised_by_hand

    x, sigma = torch.randn(1, 4, 8, 8), torch.tensor(2.0)
    pos, mid, neg = (denoised_by_hand(fake_model, x, sigma, v) for v in (1.0, 0.5, -1.0))
    (regular,) = c.DualCFGGuider().get_guider(fake_model, cond(1.0), cond(0.5), cond(-1.0), 3.0, 2.0, "regular")
    regular.prepare(x.shape)
    assert torch.allclose(regular(x, sigma), neg + (mid - neg) * 2.0 + (pos - mid) * 3.0, atol=1e-4)
    (nested,) = c.DualCFGGuider().get_guider(fake_model, cond(1.0), cond(0.5), cond(-1.0), 3.0, 2.0, "nested")
    nested.prepare(x.shape)
    assert torch.allclose(nested(x, sigma), neg + (mid + (pos - mid) * 3.0 - neg) * 2.0, atol=1e-4)
    fake_model.calls.clear()
    (plain,) = c.DualCFGGuider().get_guider(fake_model, cond(1.0), cond(0.5), cond(-1.0), 1.0, 1.0, "regular")
    plain.prepare(x.shape)
    assert torch.allclose(plain(x, sigma), pos, atol=1e-5) and [call[0] for call in fake_model.calls] == [1]
    assert all(o["prompt_type"] == "negative" for o in fake_model.seen_options[-2:])  # cond2 and negative


def test_adaptive_and_cfg_pp_sampler_nodes(fake_model):
    (adaptive,) = c.SamplerDPMAdaptative().get_sampler(3, 0.05, 0.0078, 0.05, 0.0, 1.0, 0.0, 0.81, 0.0, 1.0)
    assert torch.allclose(sample(fake_model, adaptive), sample(fake_model, select("dpm_adaptive")), atol=1e-5)
    (noisy,) = c.SamplerDPMAdaptative().get_sampler(2, 0.05, 0.0078, 0.05, 0.0, 1.0, 0.0, 0.81, 1.0, 1.0)
    out = sample(fake_model, noisy)
    assert bool(torch.isfinite(out).all()) and torch.equal(out, sample(fake_model, noisy))  # seeded noise
    (cfg_pp,) = c.SamplerEulerAncestralCFGPP().get_sampler(1.0, 1.0)
    assert torch.allclose(sample(fake_model, cfg_pp), sample(fake_model, select("euler_ancestral_cfg_pp")))
    assert c.NODE_DISPLAY_NAME_MAPPINGS["SamplerEulerAncestralCFGPP"] == "SamplerEulerAncestralCFG++"
