"""More custom-sampling nodes (spec §8.5, "other schedulers/samplers in the same file"): samplers with their
parameters exposed, more sigma schedules, and SIGMAS editing. Torch-free at import, like every stage module."""

from __future__ import annotations

import dataclasses
import math

from nodes.stages.sampling import CFG, CUSTOM, SIGMA_LIMIT, STEPS, _combo

SAMPLERS_CATEGORY = "sampling/custom_sampling/samplers"
SCHEDULERS_CATEGORY = "sampling/custom_sampling/schedulers"
SIGMAS_CATEGORY = "sampling/custom_sampling/sigmas"
ETA = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 100.0, "step": 0.01, "round": False})
S_NOISE = ETA
NOISE_DEVICE = _combo(["gpu", "cpu"])
SIGMA_MAX = ("FLOAT", {"default": 14.614642, **SIGMA_LIMIT})
SIGMA_MIN = ("FLOAT", {"default": 0.0291675, **SIGMA_LIMIT})


def _float(default: float, minimum: float, maximum: float, step: float) -> tuple:
    return ("FLOAT", {"default": default, "min": minimum, "max": maximum, "step": step, "round": False})


def _sampler(name: str, **options):
    """The named SAMPLER with solver options (η, noise scale, …) set."""
    from runtime.sampling.samplers import sampler_object

    return (dataclasses.replace(sampler_object(name), options=options),)


class _SamplerNode:
    """Shared declaration: required inputs from INPUTS, one SAMPLER out."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True
    CATEGORY = SAMPLERS_CATEGORY
    RETURN_TYPES = ("SAMPLER",)
    FUNCTION = "get_sampler"
    INPUTS: dict = {}

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": dict(cls.INPUTS)}


class _SigmasNode(_SamplerNode):
    """Shared declaration: one SIGMAS out."""

    CATEGORY = SCHEDULERS_CATEGORY
    RETURN_TYPES = ("SIGMAS",)
    FUNCTION = "get_sigmas"


class SamplerEulerAncestral(_SamplerNode):
    """euler_ancestral with its η (noise amount) and noise scale."""

    INPUTS = {"eta": ETA, "s_noise": S_NOISE}

    def get_sampler(self, eta, s_noise):
        return _sampler("euler_ancestral", eta=eta, s_noise=s_noise)


class SamplerDPMPP_2S_Ancestral(_SamplerNode):
    """dpmpp_2s_ancestral with its η and noise scale."""

    INPUTS = {"eta": ETA, "s_noise": S_NOISE}

    def get_sampler(self, eta, s_noise):
        return _sampler("dpmpp_2s_ancestral", eta=eta, s_noise=s_noise)


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

    INPUTS = {"solver_type": _combo(["midpoint", "heun"]), "eta": ETA, "s_noise": S_NOISE, "noise_device": NOISE_DEVICE}

    def get_sampler(self, solver_type, eta, s_noise, noise_device):
        name = "dpmpp_2m_sde" if noise_device == "cpu" else "dpmpp_2m_sde_gpu"
        return _sampler(name, eta=eta, s_noise=s_noise, solver_type=solver_type)


class SamplerDPMPP_3M_SDE(_SamplerNode):
    """dpmpp_3m_sde with η, noise scale and noise device."""

    INPUTS = {"eta": ETA, "s_noise": S_NOISE, "noise_device": NOISE_DEVICE}

    def get_sampler(self, eta, s_noise, noise_device):
        return _sampler("dpmpp_3m_sde" if noise_device == "cpu" else "dpmpp_3m_sde_gpu", eta=eta, s_noise=s_noise)


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
              "spacing": _combo(["linear", "cosine", "sine"])}
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


class DualCFGGuider:
    """GUIDER with two scales: cond1 against cond2, and cond2 against the negative ("nested": one inside the
    other)."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True
    CATEGORY = "sampling/custom_sampling/guiders"
    RETURN_TYPES = ("GUIDER",)
    FUNCTION = "get_guider"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "cond1": ("CONDITIONING",), "cond2": ("CONDITIONING",),
                             "negative": ("CONDITIONING",), "cfg_conds": CFG, "cfg_cond2_negative": CFG,
                             "style": _combo(["regular", "nested"])}}

    def get_guider(self, model, cond1, cond2, negative, cfg_conds, cfg_cond2_negative, style="regular"):
        from runtime.sampling.guidance import DualCFGGuider as Guider

        return (Guider(model, cond1, cond2, negative, cfg_conds, cfg_cond2_negative, nested=style == "nested"),)


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


class SamplingPercentToSigma:
    """The sigma at a fraction of the sampling run (0 = start); the ends are open unless return_actual_sigma."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True
    CATEGORY = SIGMAS_CATEGORY
    RETURN_TYPES = ("FLOAT",)
    RETURN_NAMES = ("sigma_value",)
    FUNCTION = "get_sigma"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",),
                             "sampling_percent": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.0001}),
                             "return_actual_sigma": ("BOOLEAN", {"default": False})}}

    def get_sigma(self, model, sampling_percent, return_actual_sigma):
        ms = model.model_sampling
        if return_actual_sigma and sampling_percent == 0.0:
            return (ms.sigma_max,)
        if return_actual_sigma and sampling_percent == 1.0:
            return (ms.sigma_min,)
        return (ms.percent_to_sigma(sampling_percent),)


class AddNoise:
    """Add NOISE to a latent at the noise level SIGMAS span (|σ_first − σ_last|), without sampling."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True
    CATEGORY = "_for_testing/custom_sampling/noise"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "add_noise"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "noise": ("NOISE",), "sigmas": ("SIGMAS",),
                             "latent_image": ("LATENT",)}}

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


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    SamplerEulerAncestral, SamplerEulerAncestralCFGPP, SamplerDPMAdaptative, SamplerDPMPP_2S_Ancestral, SamplerLMS,
    SamplerDPMPP_SDE, SamplerDPMPP_2M_SDE, SamplerDPMPP_3M_SDE, PolyexponentialScheduler, LaplaceScheduler, VPScheduler,
    BetaSamplingScheduler, SplitSigmasDenoise, FlipSigmas, SetFirstSigma, ExtendIntermediateSigmas, ManualSigmas,
    SamplingPercentToSigma, AddNoise, DualCFGGuider)}
NODE_DISPLAY_NAME_MAPPINGS = {"SamplerEulerAncestralCFGPP": "SamplerEulerAncestralCFG++"}
