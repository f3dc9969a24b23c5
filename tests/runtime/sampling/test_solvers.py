"""Every sampler with every scheduler, checked on the exact denoiser of a Gaussian data distribution, and the
Euler and DPM++ 2M solvers against diffusers' schedulers given the same sigmas."""

import pytest
import torch

from runtime.sampling.model_sampling import DiscreteSampling
from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES
from runtime.sampling.samplers import sampler_object
from runtime.sampling.schedules import calculate_sigmas, karras_sigmas
from runtime.sampling.solvers import SolverExtras

MS = DiscreteSampling()
MU, S = 0.5, 0.3  # data ~ N(MU, S²) per element

DETERMINISTIC = ["euler", "euler_cfg_pp", "heun", "heunpp2", "dpm_2", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2m",
                 "dpmpp_2m_cfg_pp", "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp",
                 "gradient_estimation", "gradient_estimation_cfg_pp", "ddim", "uni_pc", "uni_pc_bh2"]
STOCHASTIC = [n for n in SAMPLER_NAMES if n not in DETERMINISTIC]
# lcm jumps to the prediction each step: exact only for a consistency model, not for a posterior-mean denoiser
ANCESTRAL_OR_SDE = [n for n in STOCHASTIC if n != "lcm"]


def gaussian_denoiser(x, sigma):
    """E[x0 | x] for x0 ~ N(MU, S²), x = x0 + σ·ε."""
    return MU + S * S / (S * S + sigma * sigma) * (x - MU)


def ode_solution(x_start, sigma_start, sigma_end):
    """The probability-flow ODE solved exactly for the Gaussian: x − MU scales with sqrt(S² + σ²)."""
    return MU + (x_start - MU) * ((S * S + sigma_end ** 2) / (S * S + sigma_start ** 2)) ** 0.5


class Guided:
    """The Gaussian denoiser seen as a CFG guider whose unconditional prediction is `uncond_shift` off."""

    def __init__(self, uncond_shift=0.0):
        self.shift, self.last = uncond_shift, None

    def __call__(self, x, sigma):
        denoised = gaussian_denoiser(x, sigma)
        self.last = denoised + self.shift
        return denoised


def run(name, x, sigmas, seed=0, uncond_shift=0.0, callback=None):
    guided = Guided(uncond_shift)
    extra = SolverExtras(seed=seed, callback=callback, uncond_source=lambda: guided.last)
    return sampler_object(name)(guided, x, sigmas, extra)


def start(sigmas, shape=(1, 4, 8, 8), seed=0):
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    return noise * float((1 + sigmas[0] ** 2) ** 0.5)


def test_sampler_names_follow_comfyui_order():
    comfy_order = ["euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2",
                   "exp_heun_2_x0", "exp_heun_2_x0_sde", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast",
                   "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu",
                   "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun",
                   "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm", "ipndm_v",
                   "deis", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
                   "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde",
                   "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2"]
    assert list(SAMPLER_NAMES) == [n for n in comfy_order if n in SAMPLER_NAMES]
    required = {"euler", "euler_ancestral", "heun", "heunpp2", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast",
                "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m_sde", "ddpm",
                "lcm", "ipndm", "deis", "ddim", "uni_pc", "uni_pc_bh2"}
    assert required <= set(SAMPLER_NAMES)
    with pytest.raises(ValueError, match="unknown sampler 'er_sde'"):
        sampler_object("er_sde")


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_every_pair_gives_finite_output_of_the_right_shape(name, scheduler):
    sigmas = calculate_sigmas(MS, scheduler, 6)
    x = start(sigmas, shape=(2, 4, 5, 3))
    out = run(name, x, sigmas, seed=3)
    assert out.shape == x.shape and bool(torch.isfinite(out).all())
    # ipndm_v's step-ratio weights explode on linear_quadratic's tiny-then-huge steps (a schedule for flow models)
    if (name, scheduler) != ("ipndm_v", "linear_quadratic"):
        assert abs(float(out.mean()) - MU) < 0.5  # landed near the data, not left at noise scale


# first-order in effect (heunpp2 weights its extra slopes by σ/σ_0) or error-controlled at rtol 0.05
LOOSE = {"euler": 0.025, "euler_cfg_pp": 0.025, "ddim": 0.025, "heunpp2": 0.025, "dpm_adaptive": 0.025,
         "gradient_estimation": 0.025, "gradient_estimation_cfg_pp": 0.025}


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_samplers_converge_to_the_exact_ode_solution(name):
    # the final denoising step from σ_min ≈ 0.03 to 0 alone leaves ~0.005: the floor of the strict bound
    sigmas = karras_sigmas(120, MS.sigma_min, MS.sigma_max)
    x = start(sigmas)
    out = run(name, x, sigmas)
    last = float(sigmas[-2]) if name in ("dpm_fast", "dpm_adaptive") else 0.0  # these two stop at the last σ > 0
    exact = ode_solution(x, float(sigmas[0]), last)
    assert float((out - exact).abs().max()) < LOOSE.get(name, 0.006)


def test_higher_order_beats_euler_at_few_steps():
    sigmas = karras_sigmas(8, MS.sigma_min, MS.sigma_max)
    x = start(sigmas)
    exact = ode_solution(x, float(sigmas[0]), 0.0)
    error = {n: float((sampler_object(n)(gaussian_denoiser, x, sigmas, SolverExtras()) - exact).abs().max())
             for n in ("euler", "heun", "dpmpp_2m", "ipndm", "deis", "lms")}
    assert all(error[n] < error["euler"] for n in error if n != "euler")


@pytest.mark.parametrize("name", ANCESTRAL_OR_SDE)
def test_stochastic_samplers_sample_the_data_distribution(name):
    sigmas = karras_sigmas(40, MS.sigma_min, MS.sigma_max)
    x = start(sigmas, shape=(1, 4, 64, 64))
    out = run(name, x, sigmas, seed=5)
    assert abs(float(out.mean()) - MU) < 0.02
    assert abs(float(out.std()) - S) < 0.04


@pytest.mark.parametrize("name", ["euler_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "lcm"])
def test_stochastic_samplers_are_reproducible_from_the_seed(name):
    sigmas = karras_sigmas(6, MS.sigma_min, MS.sigma_max)
    x = start(sigmas)
    run = lambda seed: sampler_object(name)(gaussian_denoiser, x, sigmas, SolverExtras(seed=seed))  # noqa: E731
    assert torch.equal(run(1), run(1))
    assert not torch.allclose(run(1), run(2))


def test_callback_sees_every_step_with_the_prediction():
    sigmas = karras_sigmas(5, MS.sigma_min, MS.sigma_max)
    seen = []
    sampler_object("dpmpp_2m")(gaussian_denoiser, start(sigmas), sigmas,
                               SolverExtras(callback=lambda i, x, d: seen.append((i, d.shape))))
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]


def _eps_from(denoiser):
    """An ε-predicting "UNet" on variance-preserving input at noise level σ."""
    def eps(x_vp, sigma):
        x = x_vp * (1 + sigma ** 2) ** 0.5
        return (x - denoiser(x, sigma)) / sigma
    return eps


def test_euler_with_custom_sigmas_equals_diffusers_euler_discrete():
    from diffusers import EulerDiscreteScheduler

    sigmas = torch.tensor([14.6, 9.0, 4.0, 2.0, 0.9, 0.4, 0.1, 0.0])
    ref = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    ref.set_timesteps(sigmas=sigmas.tolist())  # diffusers takes the list as given, final 0 included
    eps = _eps_from(gaussian_denoiser)
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    # diffusers scales initial noise by σ_max here, ComfyUI (and we) by sqrt(1 + σ_max²): start both from one x
    theirs = x * (1 + sigmas[0] ** 2) ** 0.5
    for i, t in enumerate(ref.timesteps):
        model_input = ref.scale_model_input(theirs, t)
        theirs = ref.step(eps(model_input, sigmas[i]), t, theirs).prev_sample
    ours = sampler_object("euler")(gaussian_denoiser, x * (1 + sigmas[0] ** 2) ** 0.5, sigmas, SolverExtras())
    assert torch.allclose(ref.sigmas.float(), sigmas, atol=1e-6)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_dpmpp_2m_equals_diffusers_dpm_solver_multistep():
    from diffusers import DPMSolverMultistepScheduler

    ref = DPMSolverMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                      use_karras_sigmas=True, algorithm_type="dpmsolver++", solver_order=2,
                                      final_sigmas_type="zero")
    ref.set_timesteps(12)
    sigmas = ref.sigmas.float()
    eps = _eps_from(gaussian_denoiser)
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    theirs = x * ref.init_noise_sigma  # variance-preserving space: x_vp
    for i, t in enumerate(ref.timesteps):
        theirs = ref.step(eps(theirs, sigmas[i]), t, theirs).prev_sample
    ours = sampler_object("dpmpp_2m")(gaussian_denoiser, x * (1 + sigmas[0] ** 2) ** 0.5, sigmas, SolverExtras())
    assert float(sigmas[-1]) == 0.0
    assert torch.allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("variant", ["bh1", "bh2"])
@pytest.mark.parametrize("steps", [5, 12])
def test_uni_pc_equals_diffusers_unipc_on_comfyui_terms(variant, steps):
    """ComfyUI runs UniPC order 3 and ends at σ = 0.001 instead of 0 (then rescales): give diffusers the same."""
    from diffusers import UniPCMultistepScheduler

    ref = UniPCMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, solver_order=3,
                                  solver_type=variant, predict_x0=True, lower_order_final=True,
                                  use_karras_sigmas=True, final_sigmas_type="zero")
    ref.set_timesteps(steps)
    sigmas = ref.sigmas.clone().float()
    ref.sigmas[-1] = 0.001
    eps = _eps_from(gaussian_denoiser)
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    theirs = x.clone()
    for i, t in enumerate(ref.timesteps):
        theirs = ref.step(eps(theirs, ref.sigmas[i]), t, theirs).prev_sample
    theirs = theirs * (1 + 0.001 ** 2) ** 0.5  # variance-preserving → our space at σ = 0.001
    name = "uni_pc" if variant == "bh1" else "uni_pc_bh2"
    ours = sampler_object(name)(gaussian_denoiser, x * (1 + sigmas[0] ** 2) ** 0.5, sigmas, SolverExtras())
    assert torch.allclose(ours, theirs, atol=5e-4)


CFG_PP = [n for n in SAMPLER_NAMES if n.endswith("_cfg_pp")]


@pytest.mark.parametrize("name", CFG_PP)
def test_cfg_pp_equals_its_base_sampler_when_uncond_equals_the_guided_prediction(name):
    sigmas = karras_sigmas(8, MS.sigma_min, MS.sigma_max)
    x = start(sigmas)
    base = name.removesuffix("_cfg_pp")
    assert torch.allclose(run(name, x, sigmas, seed=4), run(base, x, sigmas, seed=4), atol=1e-4)
    assert not torch.allclose(run(name, x, sigmas, seed=4, uncond_shift=0.3), run(base, x, sigmas, seed=4),
                              atol=1e-2)


def test_cfg_pp_without_a_guider_is_a_clear_error():
    sigmas = karras_sigmas(3, MS.sigma_min, MS.sigma_max)
    with pytest.raises(ValueError, match="CFG[+][+] sampler needs the unconditional prediction"):
        sampler_object("euler_cfg_pp")(gaussian_denoiser, start(sigmas), sigmas, SolverExtras())


def test_ipndm_v_equals_ipndm_up_to_third_order_on_evenly_spaced_sigmas():
    """Equal steps: the variable-step weights reduce to Adams–Bashforth's up to order 3 (ComfyUI's order-4
    variable weights are a different scheme: 57/24, −65/24, 43/24, −11/24)."""
    from runtime.sampling.solvers import ipndm, ipndm_v

    sigmas = torch.linspace(10.0, 0.5, 9)
    x = start(sigmas)
    fixed = ipndm(gaussian_denoiser, x, sigmas, SolverExtras(), max_order=3)
    assert torch.allclose(ipndm_v(gaussian_denoiser, x, sigmas, SolverExtras(), max_order=3), fixed, atol=1e-5)
