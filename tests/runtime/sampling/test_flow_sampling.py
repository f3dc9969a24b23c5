"""Rectified-flow model sampling (families.md §0.2): ComfyUI's discrete flow and Flux tables, the CONST prediction,
schedules and samplers on flow sigmas, and Euler stepping against diffusers' FlowMatchEulerDiscreteScheduler."""

import math

import pytest
import torch

from runtime.sampling.model_sampling import FlowSampling, FluxSampling, flux_mu
from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES
from runtime.sampling.samplers import sampler_object
from runtime.sampling.schedules import calculate_sigmas
from runtime.sampling.solvers import SolverExtras

SD3 = FlowSampling(shift=3.0)
MU, S = 0.5, 0.3  # data ~ N(MU, S²) per element


def shifted(shift, u):
    return shift * u / (1 + (shift - 1) * u)


def flux_shifted(mu, t):
    return math.exp(mu) / (math.exp(mu) + (1 / t - 1))


# --- the tables and their maps -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shift, multiplier", [(1.0, 1000.0), (3.0, 1000.0), (1.73, 1.0)])
def test_flow_table_timestep_sigma_and_percent_follow_the_formulas(shift, multiplier):
    ms = FlowSampling(shift, multiplier)
    expected = torch.tensor([shifted(shift, i / 1000) for i in range(1, 1001)], dtype=torch.float64)
    assert ms.num_timesteps == 1000 and ms.sigmas.dtype == torch.float32
    assert torch.allclose(ms.sigmas.double(), expected, atol=1e-6)
    assert ms.sigma_max == pytest.approx(1.0) and ms.sigma_min == pytest.approx(shifted(shift, 0.001), abs=1e-7)
    sigma = torch.tensor([0.9, 0.5, 0.1])
    assert torch.allclose(ms.timestep(sigma), sigma * multiplier)
    assert torch.allclose(ms.sigma(ms.timestep(sigma)), torch.tensor([shifted(shift, s) for s in (0.9, 0.5, 0.1)]))
    assert ms.percent_to_sigma(0.0) == 1.0 and ms.percent_to_sigma(-0.5) == 1.0
    assert ms.percent_to_sigma(1.0) == 0.0 and ms.percent_to_sigma(1.5) == 0.0
    assert ms.percent_to_sigma(0.3) == pytest.approx(shifted(shift, 0.7), abs=1e-12)
    assert ms.prediction_type == "flow" and "shift=" in repr(ms)


def test_flux_table_timestep_sigma_and_percent_follow_the_formulas():
    ms = FluxSampling(shift=1.15)
    assert ms.num_timesteps == 10000
    for i in (1, 2, 5000, 9999, 10000):
        assert float(ms.sigmas[i - 1]) == pytest.approx(flux_shifted(1.15, i / 10000), abs=1e-6)
    assert ms.sigma_max == pytest.approx(1.0)
    sigma = torch.tensor([0.8, 0.2])
    assert torch.equal(ms.timestep(sigma), sigma)  # Flux networks get σ itself
    assert ms.percent_to_sigma(0.0) == 1.0 and ms.percent_to_sigma(1.0) == 0.0
    assert ms.percent_to_sigma(0.25) == pytest.approx(flux_shifted(1.15, 0.75), abs=1e-12)


def test_flux_mu_interpolates_the_token_count_as_diffusers_calculate_shift():
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    assert flux_mu(1024, 1024) == pytest.approx(1.15) and flux_mu(256, 256) == pytest.approx(0.5)
    for width, height in ((512, 768), (1344, 768), (2048, 2048)):
        tokens = (width // 16) * (height // 16)
        assert flux_mu(width, height) == pytest.approx(calculate_shift(tokens, 256, 4096, 0.5, 1.15), abs=1e-9)


def test_const_prediction_input_denoised_and_noise_scaling():
    x, v = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    sigma = torch.tensor([0.25, 0.75])
    assert torch.equal(SD3.calculate_input(sigma, x), x)
    expected = torch.stack([x[0] - 0.25 * v[0], x[1] - 0.75 * v[1]])
    assert torch.allclose(SD3.calculate_denoised(sigma, v, x), expected)
    noise, latent = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    for max_denoise in (False, True):  # flow ignores max_denoise: σ = 1 is pure noise
        assert torch.allclose(SD3.noise_scaling(0.6, noise, latent, max_denoise), 0.6 * noise + 0.4 * latent)
    assert torch.equal(SD3.noise_scaling(1.0, noise, latent, True), noise)
    assert torch.allclose(SD3.inverse_noise_scaling(0.2, latent), latent / 0.8)
    assert torch.equal(SD3.inverse_noise_scaling(0.0, latent), latent)
    assert SD3.is_max_denoise(1.0) and not SD3.is_max_denoise(0.8)


# --- schedules ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ms", [SD3, FlowSampling(1.0, 1.0), FluxSampling(0.8)], ids=repr)
@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_every_scheduler_gives_a_decreasing_flow_schedule_from_one(ms, scheduler):
    sigmas = calculate_sigmas(ms, scheduler, 10)
    assert torch.isfinite(sigmas).all() and (sigmas[:-1] > sigmas[1:]).all() and float(sigmas[-1]) == 0.0
    if scheduler == "ddim_uniform":  # as in ComfyUI, it starts at table[1 + k·stride], below the top
        assert float(sigmas[0]) < 1.0
    else:
        assert float(sigmas[0]) == pytest.approx(1.0, abs=1e-5)


def test_simple_on_the_sd3_table_is_the_shifted_linear_ramp():
    sigmas = calculate_sigmas(SD3, "simple", 4)
    assert torch.allclose(sigmas, torch.tensor([shifted(3.0, u) for u in (1.0, 0.75, 0.5, 0.25)] + [0.0]))


def test_normal_on_sd3_equals_diffusers_flow_match_default_sigmas():
    from diffusers import FlowMatchEulerDiscreteScheduler

    reference = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    reference.set_timesteps(20)
    assert torch.allclose(calculate_sigmas(SD3, "normal", 20), reference.sigmas.float(), atol=1e-6)


def test_simple_on_flux_equals_diffusers_flux_pipeline_sigmas_with_dynamic_shifting():
    import numpy
    from diffusers import FlowMatchEulerDiscreteScheduler

    steps, mu = 25, flux_mu(1024, 768)  # ComfyUI's `simple` truncates 10000·k/steps: exact when steps divide it
    reference = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=256, max_image_seq_len=4096)
    reference.set_timesteps(sigmas=numpy.linspace(1.0, 1 / steps, steps), mu=mu)  # what FluxPipeline passes
    assert torch.allclose(calculate_sigmas(FluxSampling(mu), "simple", steps), reference.sigmas.float(), atol=1e-6)


# --- Euler against diffusers -------------------------------------------------------------------------------------

def velocity_model(x, timestep):
    """A fixed stand-in flow network: smooth in x, depending on the timestep it is given."""
    t = timestep.reshape(-1, *([1] * (x.ndim - 1))) / 1000
    return 0.8 * x - 0.3 * torch.tanh(x) * t + 0.05 * t


def test_euler_on_shift_3_equals_diffusers_flow_match_euler_stepping():
    from diffusers import FlowMatchEulerDiscreteScheduler

    steps = 12
    sigmas = calculate_sigmas(SD3, "normal", steps)
    noise = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(3))

    def denoiser(x, sigma):
        sigma = sigma.reshape(1)
        return SD3.calculate_denoised(sigma, velocity_model(SD3.calculate_input(sigma, x), SD3.timestep(sigma)), x)

    x = SD3.noise_scaling(float(sigmas[0]), noise, torch.zeros_like(noise), SD3.is_max_denoise(float(sigmas[0])))
    ours = sampler_object("euler")(denoiser, x, sigmas, SolverExtras(model_sampling=SD3))

    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    scheduler.set_timesteps(steps)
    assert torch.allclose(scheduler.sigmas.float(), sigmas, atol=1e-6)
    theirs = noise.clone()
    for t in scheduler.timesteps:
        theirs = scheduler.step(velocity_model(theirs, t.reshape(1)), t, theirs).prev_sample
    assert torch.allclose(ours, theirs, atol=1e-5)


# --- every sampler on flow sigmas --------------------------------------------------------------------------------

def flow_denoiser(x, sigma):
    """E[x0 | x] for x0 ~ N(MU, S²), x = (1 − σ)·x0 + σ·ε."""
    a = 1 - sigma
    return MU + a * S * S / (a * a * S * S + sigma * sigma) * (x - a * MU)


class Guided:
    """The flow denoiser as a CFG guider whose unconditional prediction is `shift` off."""

    def __init__(self, shift=0.0):
        self.shift, self.last = shift, None

    def __call__(self, x, sigma):
        denoised = flow_denoiser(x, sigma)
        self.last = denoised + self.shift
        return denoised


def run(name, sigmas, seed=0, shape=(1, 4, 8, 8), uncond_shift=0.0, ms=SD3, **options):
    guided = Guided(uncond_shift)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    extra = SolverExtras(seed=seed, uncond_source=lambda: guided.last, model_sampling=ms)
    sampler = sampler_object(name)
    return sampler.function(guided, noise, sigmas, extra, **{**sampler.options, **options})


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_every_sampler_runs_on_flow_sigmas(name):
    for ms in (SD3, FluxSampling(1.15)):
        out = run(name, calculate_sigmas(ms, "simple", 8), ms=ms, uncond_shift=0.05)
        assert out.shape == (1, 4, 8, 8) and torch.isfinite(out).all(), name


ANCESTRAL = ["euler_ancestral", "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde",
             "dpmpp_2m_sde_heun", "dpmpp_3m_sde", "euler_ancestral_cfg_pp", "dpmpp_2s_ancestral_cfg_pp"]


@pytest.mark.parametrize("name", ANCESTRAL)
def test_ancestral_and_sde_samplers_sample_the_data_distribution_on_flow(name):
    # karras ends at the table's σ_min (0.003): no coarse last step shrinking the spread (Euler's error ~0.015 here)
    out = run(name, calculate_sigmas(SD3, "karras", 50), seed=2, shape=(1, 4, 32, 32))
    assert torch.isfinite(out).all()
    assert float(out.mean()) == pytest.approx(MU, abs=0.03)
    assert float(out.std()) == pytest.approx(S, abs=0.03)


@pytest.mark.parametrize("ancestral, deterministic", [("euler_ancestral", "euler"), ("dpm_2_ancestral", "dpm_2")])
def test_rf_ancestral_step_is_its_deterministic_twin_at_eta_0_and_differs_at_eta_1(ancestral, deterministic):
    sigmas = calculate_sigmas(SD3, "simple", 10)
    twin = run(deterministic, sigmas)
    assert torch.allclose(run(ancestral, sigmas, eta=0.0), twin, atol=1e-5)
    noisy = run(ancestral, sigmas)
    assert torch.isfinite(noisy).all() and not torch.allclose(noisy, twin, atol=1e-3)


@pytest.mark.parametrize("name", ["euler_ancestral", "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde",
                                  "dpmpp_2m_sde", "dpmpp_3m_sde"])
def test_flow_changes_the_stochastic_steps(name):
    """The same sigmas and seed without the flow fact (the variance-exploding steps) give another result."""
    sigmas = calculate_sigmas(SD3, "simple", 10)
    assert not torch.allclose(run(name, sigmas), run(name, sigmas, ms=None), atol=1e-3)


@pytest.mark.parametrize("name, base", [("euler_cfg_pp", "euler"),
                                        ("dpmpp_2s_ancestral_cfg_pp", "dpmpp_2s_ancestral")])
def test_cfg_pp_on_flow_equals_its_base_when_uncond_is_the_guided_prediction(name, base):
    sigmas = calculate_sigmas(SD3, "simple", 10)
    assert torch.allclose(run(name, sigmas, seed=4), run(base, sigmas, seed=4), atol=1e-5)


def test_sde_samplers_start_just_below_sigma_one_on_flow():
    """λ = log((1 − σ)/σ) is −∞ at σ = 1: like ComfyUI, the first σ becomes percent_to_sigma(1e-4)."""
    seen = []
    sigmas = calculate_sigmas(SD3, "simple", 4)
    extra = SolverExtras(seed=0, model_sampling=SD3)
    sampler_object("dpmpp_2m_sde")(lambda x, s: seen.append(float(s)) or flow_denoiser(x, s),
                                   torch.randn(1, 4, 4, 4), sigmas, extra)
    assert seen[0] == pytest.approx(SD3.percent_to_sigma(1e-4)) and seen[0] < 1.0
    assert float(sigmas[0]) == 1.0  # the caller's schedule is left as it was


def test_lcm_renoises_the_flow_way():
    sigmas = torch.tensor([1.0, 0.5, 0.0])
    calls = []

    def denoiser(x, sigma):
        calls.append(x.clone())
        return torch.full_like(x, 2.0)

    noise = torch.randn(1, 4, 4, 4)
    sampler_object("lcm")(denoiser, noise, sigmas, SolverExtras(seed=7, model_sampling=SD3))
    step_noise = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(8))  # CPU: seed + 1
    assert torch.allclose(calls[1], 0.5 * step_noise + 0.5 * 2.0)
