"""The SamplerCustom family (spec §8.5), as ComfyUI's `comfy_extras.nodes_custom_sampler` has it: SamplerCustom and
SamplerCustomAdvanced, which sample with SAMPLER, SIGMAS, NOISE and GUIDER values, and every node that builds or
edits one of those values (plus SamplingPercentToSigma and AddNoise from the same ComfyUI module).

Every node here reports ComfyUI's module and V3 /object_info shape (`_CustomSamplingNode`). The KSampler family,
which picks its sampler and scheduler by name, is in `sampling.py` (and shares its SEED, STEPS, CFG and DENOISE
declarations with this module); the math lives in `runtime.sampling`, imported inside the functions so this module
loads without torch.
"""

from __future__ import annotations

import dataclasses
import math

from nodes.inputs import combo
from nodes.stages.sampling import CFG, DENOISE, SEED, STEPS, check_latent
from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES

CUSTOM = "comfy_extras.nodes_custom_sampler"  # where ComfyUI's (V3) custom-sampling nodes report they come from
SAMPLING_CATEGORY = "sampling/custom_sampling"
SAMPLERS_CATEGORY = "sampling/custom_sampling/samplers"
SCHEDULERS_CATEGORY = "sampling/custom_sampling/schedulers"
SIGMAS_CATEGORY = "sampling/custom_sampling/sigmas"
NOISE_CATEGORY = "sampling/custom_sampling/noise"
GUIDERS_CATEGORY = "sampling/custom_sampling/guiders"
SIGMA_LIMIT = {"min": 0.0, "max": 5000.0, "step": 0.01, "round": False}
SIGMA_MAX = ("FLOAT", {"default": 14.614642, **SIGMA_LIMIT})
SIGMA_MIN = ("FLOAT", {"default": 0.0291675, **SIGMA_LIMIT})
ETA = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 100.0, "step": 0.01, "round": False})
S_NOISE = ETA
NOISE_DEVICE = combo(["gpu", "cpu"])


def _float(default: float, minimum: float, maximum: float, step: float) -> tuple:
    return ("FLOAT", {"default": default, "min": minimum, "max": maximum, "step": step, "round": False})


def _sampler(name: str, **options):
    """The named SAMPLER with solver options (η, noise scale, …) set."""
    from runtime.sampling.samplers import sampler_object

    return (dataclasses.replace(sampler_object(name), options=options),)


def _run_custom(node: str, guider, noise, sampler, sigmas, latent: dict) -> tuple[dict, dict]:
    """SamplerCustom(Advanced): sample with `guider`; returns (output, denoised_output) LATENT dicts."""
    from runtime.sampling.sample import fix_empty_latent_channels, sample, sampled_latent

    check_latent(node, latent)
    latent = dict(latent)
    latent["samples"] = fix_empty_latent_channels(latent["samples"], guider.model.latent_format.channels)
    samples, x0 = sample(guider, noise.generate_noise(latent), latent["samples"], sampler, sigmas,
                         latent.get("noise_mask"), noise.seed)
    out = sampled_latent(latent, samples)
    return out, (sampled_latent(latent, x0) if x0 is not None else out)


# Node declarations below are data (exempt from the no-repeated-block habit).

class _CustomSamplingNode:
    """Shared declaration: ComfyUI's module and V3 shape; the required inputs are INPUTS."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True
    INPUTS: dict = {}

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": dict(cls.INPUTS)}


class _SamplerNode(_CustomSamplingNode):
    """Shared declaration: one SAMPLER out."""

    CATEGORY = SAMPLERS_CATEGORY
    RETURN_TYPES = ("SAMPLER",)
    FUNCTION = "get_sampler"


class _SigmasNode(_CustomSamplingNode):
    """Shared declaration: one SIGMAS out."""

    CATEGORY = SCHEDULERS_CATEGORY
    RETURN_TYPES = ("SIGMAS",)
    FUNCTION = "get_sigmas"


class _NoiseNode(_CustomSamplingNode):
    """Shared declaration: one NOISE out."""

    CATEGORY = NOISE_CATEGORY
    RETURN_TYPES = ("NOISE",)
    FUNCTION = "get_noise"


class _GuiderNode(_CustomSamplingNode):
    """Shared declaration: one GUIDER out."""

    CATEGORY = GUIDERS_CATEGORY
    RETURN_TYPES = ("GUIDER",)
    FUNCTION = "get_guider"


# --- sampling with SAMPLER, SIGMAS, NOISE and GUIDER ------------------------------------------------------------

class SamplerCustom(_CustomSamplingNode):
    """Sample with a SAMPLER over explicit SIGMAS with CFG; also returns the last predicted clean latent."""

    INPUTS = {"model": ("MODEL", {}), "add_noise": ("BOOLEAN", {"default": True}), "noise_seed": SEED, "cfg": CFG,
              "positive": ("CONDITIONING", {}), "negative": ("CONDITIONING", {}), "sampler": ("SAMPLER", {}),
              "sigmas": ("SIGMAS", {}), "latent_image": ("LATENT", {})}
    RETURN_TYPES = ("LATENT", "LATENT")
    RETURN_NAMES = ("output", "denoised_output")
    FUNCTION = "sample"
    CATEGORY = SAMPLING_CATEGORY

    def sample(self, model, add_noise, noise_seed, cfg, positive, negative, sampler, sigmas, latent_image):
        from runtime.sampling.guidance import Guider
        from runtime.sampling.noise import SeededNoise, ZeroNoise

        noise = SeededNoise(noise_seed) if add_noise else ZeroNoise()
        return _run_custom("SamplerCustom", Guider(model, positive, negative, cfg), noise, sampler, sigmas,
                           latent_image)


class SamplerCustomAdvanced(_CustomSamplingNode):
    """Sample with a NOISE source, a GUIDER, a SAMPLER and SIGMAS."""

    INPUTS = {"noise": ("NOISE", {}), "guider": ("GUIDER", {}), "sampler": ("SAMPLER", {}), "sigmas": ("SIGMAS", {}),
              "latent_image": ("LATENT", {})}
    RETURN_TYPES = ("LATENT", "LATENT")
    RETURN_NAMES = ("output", "denoised_output")
    FUNCTION = "sample"
    CATEGORY = SAMPLING_CATEGORY

    def sample(self, noise, guider, sampler, sigmas, latent_image):
        return _run_custom("SamplerCustomAdvanced", guider, noise, sampler, sigmas, latent_image)


# --- SAMPLER ----------------------------------------------------------------------------------------------------

class KSamplerSelect(_SamplerNode):
    """A SAMPLER by name."""

    INPUTS = {"sampler_name": combo(SAMPLER_NAMES)}

    def get_sampler(self, sampler_name):
        from runtime.sampling.samplers import sampler_object

        return (sampler_object(sampler_name),)


class SamplerEulerAncestral(_SamplerNode):
    """euler_ancestral with its η (noise amount) and noise scale."""

    INPUTS = {"eta": ETA, "s_noise": S_NOISE}

    def get_sampler(self, eta, s_noise):
        return _sampler("euler_ancestral", eta=eta, s_noise=s_noise)


class SamplerEulerAncestralCFGPP(_SamplerNode):
    """euler_ancestral_cfg_pp with its η and noise scale."""

    INPUTS = {"eta": _float(1.0, 0.0, 1.0, 0.01), "s_noise": _float(1.0, 0.0, 10.0, 0.01)}

    def get_sampler(self, eta, s_noise):
        return _sampler("euler_ancestral_cfg_pp", eta=eta, s_noise=s_noise)


class SamplerDPMAdaptative(_SamplerNode):
    """dpm_adaptive with its error tolerances, PID step-size controller and optional ancestral noise."""

    INPUTS = {"order": ("INT", {"default": 3, "min": 2, "max": 3}), "rtol": _float(0.05, 0.0, 100.0, 0.01),
              "atol": _float(0.0078, 0.0, 100.0, 0.01), "h_init": _float(0.05, 0.0, 100.0, 0.01),
              "pcoeff": _float(0.0, 0.0, 100.0, 0.01), "icoeff": _float(1.0, 0.0, 100.0, 0.01),
              "dcoeff": _float(0.0, 0.0, 100.0, 0.01), "accept_safety": _float(0.81, 0.0, 100.0, 0.01),
              "eta": _float(0.0, 0.0, 100.0, 0.01), "s_noise": S_NOISE}

    def get_sampler(self, order, rtol, atol, h_init, pcoeff, icoeff, dcoeff, accept_safety, eta, s_noise):
        return _sampler("dpm_adaptive", order=order, rtol=rtol, atol=atol, h_init=h_init, pcoeff=pcoeff,
                        icoeff=icoeff, dcoeff=dcoeff, accept_safety=accept_safety, eta=eta, s_noise=s_noise)


class SamplerDPMPP_2S_Ancestral(_SamplerNode):
    """dpmpp_2s_ancestral with its η and noise scale."""

    INPUTS = {"eta": ETA, "s_noise": S_NOISE}

    def get_sampler(self, eta, s_noise):
        return _sampler("dpmpp_2s_ancestral", eta=eta, s_noise=s_noise)


class SamplerLMS(_SamplerNode):
    """lms of a chosen order."""

    INPUTS = {"order": ("INT", {"default": 4, "min": 1, "max": 100})}

    def get_sampler(self, order):
        return _sampler("lms", order=order)


class SamplerDPMPP_SDE(_SamplerNode):
    """dpmpp_sde with η, noise scale, midpoint ratio r and where the Brownian tree lives."""

    INPUTS = {"eta": ETA, "s_noise": S_NOISE, "r": ("FLOAT", {**ETA[1], "default": 0.5}), "noise_device": NOISE_DEVICE}

    def get_sampler(self, eta, s_noise, r, noise_device):
        return _sampler("dpmpp_sde" if noise_device == "cpu" else "dpmpp_sde_gpu", eta=eta, s_noise=s_noise, r=r)


class SamplerDPMPP_2M_SDE(_SamplerNode):
    """dpmpp_2m_sde with its correction (midpoint/heun), η, noise scale and noise device."""

    INPUTS = {"solver_type": combo(["midpoint", "heun"]), "eta": ETA, "s_noise": S_NOISE, "noise_device": NOISE_DEVICE}

    def get_sampler(self, solver_type, eta, s_noise, noise_device):
        name = "dpmpp_2m_sde" if noise_device == "cpu" else "dpmpp_2m_sde_gpu"
        return _sampler(name, eta=eta, s_noise=s_noise, solver_type=solver_type)


class SamplerDPMPP_3M_SDE(_SamplerNode):
    """dpmpp_3m_sde with η, noise scale and noise device."""

    INPUTS = {"eta": ETA, "s_noise": S_NOISE, "noise_device": NOISE_DEVICE}

    def get_sampler(self, eta, s_noise, noise_device):
        return _sampler("dpmpp_3m_sde" if noise_device == "cpu" else "dpmpp_3m_sde_gpu", eta=eta, s_noise=s_noise)


# --- SIGMAS: schedules ------------------------------------------------------------------------------------------

class BasicScheduler(_SigmasNode):
    """The model's SIGMAS for a named scheduler; denoise < 1 keeps the tail of an int(steps / denoise) schedule."""

    INPUTS = {"model": ("MODEL", {}), "scheduler": combo(SCHEDULER_NAMES), "steps": STEPS, "denoise": DENOISE}

    def get_sigmas(self, model, scheduler, steps, denoise):
        import torch

        from runtime.sampling.schedules import calculate_sigmas

        total = steps
        if denoise < 1.0:
            if denoise <= 0.0:
                return (torch.zeros(0),)
            total = int(steps / denoise)
        return (calculate_sigmas(model.model_sampling, scheduler, total).cpu()[-(steps + 1):],)


class KarrasScheduler(_SigmasNode):
    """Karras et al. (2022) sigmas between explicit sigma_max and sigma_min."""

    INPUTS = {"steps": STEPS, "sigma_max": SIGMA_MAX, "sigma_min": SIGMA_MIN, "rho": _float(7.0, 0.0, 100.0, 0.01)}

    def get_sigmas(self, steps, sigma_max, sigma_min, rho):
        from runtime.sampling.schedules import karras_sigmas

        return (karras_sigmas(steps, sigma_min, sigma_max, rho),)


class ExponentialScheduler(_SigmasNode):
    """Sigmas evenly spaced in log between explicit sigma_max and sigma_min."""

    INPUTS = {"steps": STEPS, "sigma_max": SIGMA_MAX, "sigma_min": SIGMA_MIN}

    def get_sigmas(self, steps, sigma_max, sigma_min):
        from runtime.sampling.schedules import exponential_sigmas

        return (exponential_sigmas(steps, sigma_min, sigma_max),)


class SDTurboScheduler(_SigmasNode):
    """SD-Turbo's 1–10 step schedule (timesteps 999, 899, …), starting later for denoise < 1."""

    INPUTS = {"model": ("MODEL", {}), "steps": ("INT", {"default": 1, "min": 1, "max": 10}),
              "denoise": ("FLOAT", {"default": 1.0, "min": 0, "max": 1.0, "step": 0.01})}

    def get_sigmas(self, model, steps, denoise):
        from runtime.sampling.schedules import sdturbo_sigmas

        return (sdturbo_sigmas(model.model_sampling, steps, denoise),)


class PolyexponentialScheduler(_SigmasNode):
    """Sigmas whose log falls like ramp^rho from sigma_max to sigma_min (rho = 1: exponential)."""

    INPUTS = {"steps": STEPS, "sigma_max": SIGMA_MAX, "sigma_min": SIGMA_MIN, "rho": _float(1.0, 0.0, 100.0, 0.01)}

    def get_sigmas(self, steps, sigma_max, sigma_min, rho):
        from runtime.sampling.schedules import polyexponential_sigmas

        return (polyexponential_sigmas(steps, sigma_min, sigma_max, rho),)


class LaplaceScheduler(_SigmasNode):
    """Sigmas at Laplace-distributed log-σ quantiles (no final 0, as in ComfyUI)."""

    INPUTS = {"steps": STEPS, "sigma_max": SIGMA_MAX, "sigma_min": SIGMA_MIN, "mu": _float(0.0, -10.0, 10.0, 0.1),
              "beta": _float(0.5, 0.0, 10.0, 0.1)}

    def get_sigmas(self, steps, sigma_max, sigma_min, mu, beta):
        from runtime.sampling.schedules import laplace_sigmas

        return (laplace_sigmas(steps, sigma_min, sigma_max, mu, beta),)


class VPScheduler(_SigmasNode):
    """The variance-preserving SDE's continuous schedule (Song et al. 2021)."""

    INPUTS = {"steps": STEPS, "beta_d": _float(19.9, 0.0, 5000.0, 0.01), "beta_min": _float(0.1, 0.0, 5000.0, 0.01),
              "eps_s": _float(0.001, 0.0, 1.0, 0.0001)}

    def get_sigmas(self, steps, beta_d, beta_min, eps_s):
        from runtime.sampling.schedules import vp_sigmas

        return (vp_sigmas(steps, beta_d, beta_min, eps_s),)


class BetaSamplingScheduler(_SigmasNode):
    """The `beta` scheduler with its own α and β."""

    INPUTS = {"model": ("MODEL",), "steps": STEPS, "alpha": _float(0.6, 0.0, 50.0, 0.01),
              "beta": _float(0.6, 0.0, 50.0, 0.01)}

    def get_sigmas(self, model, steps, alpha, beta):
        from runtime.sampling.schedules import beta as beta_schedule

        return (beta_schedule(model.model_sampling, steps, alpha, beta),)


# --- SIGMAS: editing --------------------------------------------------------------------------------------------

class SplitSigmas(_SigmasNode):
    """Split SIGMAS at `step`: high = σ[:step+1], low = σ[step:] (they share σ[step])."""

    CATEGORY = SIGMAS_CATEGORY
    INPUTS = {"sigmas": ("SIGMAS", {}), "step": ("INT", {"default": 0, "min": 0, "max": 10000})}
    RETURN_TYPES = ("SIGMAS", "SIGMAS")
    RETURN_NAMES = ("high_sigmas", "low_sigmas")

    def get_sigmas(self, sigmas, step):
        return (sigmas[:step + 1], sigmas[step:])


class SplitSigmasDenoise(_SigmasNode):
    """Split SIGMAS so the low part holds the last round(steps·denoise) steps (both share the split sigma)."""

    CATEGORY = SIGMAS_CATEGORY
    INPUTS = {"sigmas": ("SIGMAS",), "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})}
    RETURN_TYPES = ("SIGMAS", "SIGMAS")
    RETURN_NAMES = ("high_sigmas", "low_sigmas")

    def get_sigmas(self, sigmas, denoise):
        steps = max(sigmas.shape[-1] - 1, 0)
        low_steps = round(steps * denoise)
        # as in ComfyUI, denoise 0 leaves the high part empty (σ[:-0]) and the low part the last sigma alone
        return sigmas[:-low_steps], sigmas[-(low_steps + 1):]


class FlipSigmas(_SigmasNode):
    """SIGMAS reversed (for inversion); a leading 0 becomes 0.0001 so the first step is defined."""

    CATEGORY = SIGMAS_CATEGORY
    INPUTS = {"sigmas": ("SIGMAS",)}

    def get_sigmas(self, sigmas):
        if len(sigmas) == 0:
            return (sigmas,)
        flipped = sigmas.flip(0).clone()
        if flipped[0] == 0:
            flipped[0] = 0.0001
        return (flipped,)


class SetFirstSigma(_SigmasNode):
    """SIGMAS with the first value replaced."""

    CATEGORY = SIGMAS_CATEGORY
    INPUTS = {"sigmas": ("SIGMAS",), "sigma": _float(136.0, 0.0, 20000.0, 0.001)}
    FUNCTION = "set_first_sigma"

    def set_first_sigma(self, sigmas, sigma):
        sigmas = sigmas.clone()
        sigmas[0] = sigma
        return (sigmas,)


class ExtendIntermediateSigmas(_SigmasNode):
    """Insert `steps − 1` extra sigmas into every step whose σ lies in [end_at_sigma, start_at_sigma]
    (start −1 = no upper bound), spaced linearly, or eased with cosine/sine."""

    CATEGORY = SIGMAS_CATEGORY
    INPUTS = {"sigmas": ("SIGMAS",), "steps": ("INT", {"default": 2, "min": 1, "max": 100}),
              "start_at_sigma": _float(-1.0, -1.0, 20000.0, 0.01), "end_at_sigma": _float(12.0, 0.0, 20000.0, 0.01),
              "spacing": combo(["linear", "cosine", "sine"])}
    FUNCTION = "extend"

    def extend(self, sigmas, steps, start_at_sigma, end_at_sigma, spacing):
        import torch

        start_at_sigma = float("inf") if start_at_sigma < 0 else start_at_sigma
        fractions = torch.linspace(0, 1, steps + 1)[1:-1]
        fractions = {"linear": fractions, "cosine": torch.sin(fractions * math.pi / 2),
                     "sine": 1 - torch.cos(fractions * math.pi / 2)}[spacing]
        values = []
        for sigma, sigma_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
            values.append(sigma)
            if end_at_sigma <= sigma <= start_at_sigma:
                values.extend((fractions * (sigma_next - sigma) + sigma).tolist())
        if len(sigmas) > 0:
            values.append(float(sigmas[-1]))
        return (torch.tensor(values, dtype=torch.float32),)


class ManualSigmas(_SigmasNode):
    """SIGMAS typed as a list of numbers ("14.6, 7, 3.5, 0")."""

    CATEGORY = SIGMAS_CATEGORY
    INPUTS = {"sigmas": ("STRING", {"default": "1, 0.5", "multiline": False})}

    def get_sigmas(self, sigmas):
        import re

        import torch

        values = [float(v) for v in re.findall(r"[-+]?(?:\d*\.\d+|\d+\.?)(?:[eE][-+]?\d+)?", sigmas)]
        if not values:
            raise ValueError(f"ManualSigmas: input 'sigmas' holds no numbers: {sigmas!r}")
        return (torch.tensor(values, dtype=torch.float32),)


class SamplingPercentToSigma(_CustomSamplingNode):
    """The sigma at a fraction of the sampling run (0 = start); the ends are open unless return_actual_sigma."""

    CATEGORY = SIGMAS_CATEGORY
    INPUTS = {"model": ("MODEL",),
              "sampling_percent": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.0001}),
              "return_actual_sigma": ("BOOLEAN", {"default": False})}
    RETURN_TYPES = ("FLOAT",)
    RETURN_NAMES = ("sigma_value",)
    FUNCTION = "get_sigma"

    def get_sigma(self, model, sampling_percent, return_actual_sigma):
        ms = model.model_sampling
        if return_actual_sigma and sampling_percent == 0.0:
            return (ms.sigma_max,)
        if return_actual_sigma and sampling_percent == 1.0:
            return (ms.sigma_min,)
        return (ms.percent_to_sigma(sampling_percent),)


# --- NOISE ------------------------------------------------------------------------------------------------------

class RandomNoise(_NoiseNode):
    """NOISE drawn from a seed exactly as KSampler draws it."""

    INPUTS = {"noise_seed": SEED}

    def get_noise(self, noise_seed):
        from runtime.sampling.noise import SeededNoise

        return (SeededNoise(noise_seed),)


class DisableNoise(_NoiseNode):
    """NOISE that adds nothing (seed 0)."""

    def get_noise(self):
        from runtime.sampling.noise import ZeroNoise

        return (ZeroNoise(),)


class AddNoise(_CustomSamplingNode):
    """Add NOISE to a latent at the noise level SIGMAS span (|σ_first − σ_last|), without sampling."""

    CATEGORY = "_for_testing/custom_sampling/noise"
    INPUTS = {"model": ("MODEL",), "noise": ("NOISE",), "sigmas": ("SIGMAS",), "latent_image": ("LATENT",)}
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "add_noise"

    def add_noise(self, model, noise, sigmas, latent_image):
        import torch

        if len(sigmas) == 0:
            return (latent_image,)
        scale = float((sigmas[0] - sigmas[-1]).abs()) if len(sigmas) > 1 else float(sigmas[0])
        samples = latent_image["samples"]
        fmt = model.latent_format
        if torch.count_nonzero(samples) > 0:  # an empty latent is not scaled, as in sampling
            samples = fmt.process_in(samples)
        noisy = model.model_sampling.noise_scaling(scale, noise.generate_noise(latent_image), samples, False)
        noisy = torch.nan_to_num(fmt.process_out(noisy), nan=0.0, posinf=0.0, neginf=0.0)
        return ({**latent_image, "samples": noisy},)


# --- GUIDER -----------------------------------------------------------------------------------------------------

class CFGGuider(_GuiderNode):
    """GUIDER: classifier-free guidance between positive and negative at scale cfg."""

    INPUTS = {"model": ("MODEL", {}), "positive": ("CONDITIONING", {}), "negative": ("CONDITIONING", {}), "cfg": CFG}

    def get_guider(self, model, positive, negative, cfg):
        from runtime.sampling.guidance import Guider

        return (Guider(model, positive, negative, cfg),)


class BasicGuider(_GuiderNode):
    """GUIDER: the positive conditioning alone (no CFG)."""

    INPUTS = {"model": ("MODEL", {}), "conditioning": ("CONDITIONING", {})}

    def get_guider(self, model, conditioning):
        from runtime.sampling.guidance import Guider

        return (Guider(model, conditioning),)


class DualCFGGuider(_GuiderNode):
    """GUIDER with two scales: cond1 against cond2, and cond2 against the negative ("nested": one inside the
    other)."""

    INPUTS = {"model": ("MODEL",), "cond1": ("CONDITIONING",), "cond2": ("CONDITIONING",),
              "negative": ("CONDITIONING",), "cfg_conds": CFG, "cfg_cond2_negative": CFG,
              "style": combo(["regular", "nested"])}

    def get_guider(self, model, cond1, cond2, negative, cfg_conds, cfg_cond2_negative, style="regular"):
        from runtime.sampling.guidance import DualScaleGuider

        return (DualScaleGuider(model, cond1, cond2, negative, cfg_conds, cfg_cond2_negative,
                                nested=style == "nested"),)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    SamplerCustom, SamplerCustomAdvanced,
    KSamplerSelect, SamplerEulerAncestral, SamplerEulerAncestralCFGPP, SamplerDPMAdaptative, SamplerDPMPP_2S_Ancestral,
    SamplerLMS, SamplerDPMPP_SDE, SamplerDPMPP_2M_SDE, SamplerDPMPP_3M_SDE,
    BasicScheduler, KarrasScheduler, ExponentialScheduler, SDTurboScheduler, PolyexponentialScheduler,
    LaplaceScheduler, VPScheduler, BetaSamplingScheduler,
    SplitSigmas, SplitSigmasDenoise, FlipSigmas, SetFirstSigma, ExtendIntermediateSigmas, ManualSigmas,
    SamplingPercentToSigma,
    RandomNoise, DisableNoise, AddNoise,
    CFGGuider, BasicGuider, DualCFGGuider)}
NODE_DISPLAY_NAME_MAPPINGS = {"SamplerEulerAncestralCFGPP": "SamplerEulerAncestralCFG++"}
