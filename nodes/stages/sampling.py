"""Sampling nodes (spec §8.5): KSampler, KSamplerAdvanced and the custom-sampling family (SAMPLER, SIGMAS, NOISE,
GUIDER). The math lives in `runtime.sampling`, imported inside the functions so this module loads without torch."""

from __future__ import annotations

from nodes.constants import SEED_MAX
from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES

CUSTOM = "comfy_extras.nodes_custom_sampler"  # where ComfyUI's (V3) custom-sampling nodes report they come from
SEED = ("INT", {"default": 0, "min": 0, "max": SEED_MAX, "control_after_generate": True})
STEPS = ("INT", {"default": 20, "min": 1, "max": 10000})
CFG = ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01})
DENOISE = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})
SIGMA_LIMIT = {"min": 0.0, "max": 5000.0, "step": 0.01, "round": False}


def _combo(options) -> tuple:
    return ("COMBO", {"multiselect": False, "options": list(options)})


def _check_latent(node: str, latent) -> None:
    if not isinstance(latent, dict) or "samples" not in latent:
        raise ValueError(f"{node}: input 'latent_image' must be a LATENT dict with 'samples', "
                         f"got {type(latent).__name__}")


def _run_custom(node: str, guider, noise, sampler, sigmas, latent: dict) -> tuple[dict, dict]:
    """SamplerCustom(Advanced): sample with `guider`; returns (output, denoised_output) LATENT dicts."""
    from runtime.sampling.noise import fix_empty_latent_channels
    from runtime.sampling.sample import sample

    _check_latent(node, latent)
    latent = dict(latent)
    latent["samples"] = fix_empty_latent_channels(latent["samples"], guider.model.latent_format.channels)
    samples, x0 = sample(guider, noise.generate_noise(latent), latent["samples"], sampler, sigmas,
                         latent.get("noise_mask"), noise.seed)
    out = {**latent, "samples": samples}
    return out, ({**latent, "samples": x0} if x0 is not None else out)


class KSampler:
    """Denoise a latent with a sampler and scheduler chosen by name, guided by positive and negative prompts."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL", {}), "seed": SEED, "steps": STEPS, "cfg": CFG,
                             "sampler_name": (list(SAMPLER_NAMES), {}), "scheduler": (list(SCHEDULER_NAMES), {}),
                             "positive": ("CONDITIONING", {}), "negative": ("CONDITIONING", {}),
                             "latent_image": ("LATENT", {}), "denoise": DENOISE}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "sampling"

    def sample(self, model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
               denoise=1.0):
        from runtime.sampling.sample import common_ksampler

        _check_latent("KSampler", latent_image)
        return (common_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                                denoise=denoise),)


class KSamplerAdvanced:
    """KSampler over a window [start_at_step, end_at_step) of the schedule, with or without adding noise."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "add_noise": (["enable", "disable"],), "noise_seed": SEED,
                             "steps": STEPS, "cfg": CFG, "sampler_name": (list(SAMPLER_NAMES),),
                             "scheduler": (list(SCHEDULER_NAMES),), "positive": ("CONDITIONING",),
                             "negative": ("CONDITIONING",), "latent_image": ("LATENT",),
                             "start_at_step": ("INT", {"default": 0, "min": 0, "max": 10000}),
                             "end_at_step": ("INT", {"default": 10000, "min": 0, "max": 10000}),
                             "return_with_leftover_noise": (["disable", "enable"],)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "sampling"

    def sample(self, model, add_noise, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative,
               latent_image, start_at_step, end_at_step, return_with_leftover_noise, denoise=1.0):
        from runtime.sampling.sample import common_ksampler

        _check_latent("KSamplerAdvanced", latent_image)
        return (common_ksampler(model, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative,
                                latent_image, denoise=denoise, disable_noise=add_noise == "disable",
                                start_step=start_at_step, last_step=end_at_step,
                                force_full_denoise=return_with_leftover_noise != "enable"),)


class SamplerCustom:
    """Sample with a SAMPLER over explicit SIGMAS with CFG; also returns the last predicted clean latent."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL", {}), "add_noise": ("BOOLEAN", {"default": True}),
                             "noise_seed": SEED, "cfg": CFG, "positive": ("CONDITIONING", {}),
                             "negative": ("CONDITIONING", {}), "sampler": ("SAMPLER", {}),
                             "sigmas": ("SIGMAS", {}), "latent_image": ("LATENT", {})}}

    RETURN_TYPES = ("LATENT", "LATENT")
    RETURN_NAMES = ("output", "denoised_output")
    FUNCTION = "sample"
    CATEGORY = "sampling/custom_sampling"

    def sample(self, model, add_noise, noise_seed, cfg, positive, negative, sampler, sigmas, latent_image):
        from runtime.sampling.guidance import cfg_guider
        from runtime.sampling.noise import DisabledNoise, RandomNoise

        noise = RandomNoise(noise_seed) if add_noise else DisabledNoise()
        return _run_custom("SamplerCustom", cfg_guider(model, positive, negative, cfg), noise, sampler, sigmas,
                           latent_image)


class SamplerCustomAdvanced:
    """Sample with a NOISE source, a GUIDER, a SAMPLER and SIGMAS."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"noise": ("NOISE", {}), "guider": ("GUIDER", {}), "sampler": ("SAMPLER", {}),
                             "sigmas": ("SIGMAS", {}), "latent_image": ("LATENT", {})}}

    RETURN_TYPES = ("LATENT", "LATENT")
    RETURN_NAMES = ("output", "denoised_output")
    FUNCTION = "sample"
    CATEGORY = "sampling/custom_sampling"

    def sample(self, noise, guider, sampler, sigmas, latent_image):
        return _run_custom("SamplerCustomAdvanced", guider, noise, sampler, sigmas, latent_image)


class KSamplerSelect:
    """A SAMPLER by name."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sampler_name": _combo(SAMPLER_NAMES)}}

    RETURN_TYPES = ("SAMPLER",)
    FUNCTION = "get_sampler"
    CATEGORY = "sampling/custom_sampling/samplers"

    def get_sampler(self, sampler_name):
        from runtime.sampling.samplers import sampler_object

        return (sampler_object(sampler_name),)


class BasicScheduler:
    """The model's SIGMAS for a named scheduler; denoise < 1 keeps the tail of an int(steps / denoise) schedule."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL", {}), "scheduler": _combo(SCHEDULER_NAMES), "steps": STEPS,
                             "denoise": DENOISE}}

    RETURN_TYPES = ("SIGMAS",)
    FUNCTION = "get_sigmas"
    CATEGORY = "sampling/custom_sampling/schedulers"

    def get_sigmas(self, model, scheduler, steps, denoise):
        import torch

        from runtime.sampling.schedules import calculate_sigmas

        total = steps
        if denoise < 1.0:
            if denoise <= 0.0:
                return (torch.zeros(0),)
            total = int(steps / denoise)
        return (calculate_sigmas(model.model_sampling, scheduler, total).cpu()[-(steps + 1):],)


class KarrasScheduler:
    """Karras et al. (2022) sigmas between explicit sigma_max and sigma_min."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": STEPS, "sigma_max": ("FLOAT", {"default": 14.614642, **SIGMA_LIMIT}),
                             "sigma_min": ("FLOAT", {"default": 0.0291675, **SIGMA_LIMIT}),
                             "rho": ("FLOAT", {"default": 7.0, "min": 0.0, "max": 100.0, "step": 0.01,
                                               "round": False})}}

    RETURN_TYPES = ("SIGMAS",)
    FUNCTION = "get_sigmas"
    CATEGORY = "sampling/custom_sampling/schedulers"

    def get_sigmas(self, steps, sigma_max, sigma_min, rho):
        from runtime.sampling.schedules import karras_sigmas

        return (karras_sigmas(steps, sigma_min, sigma_max, rho),)


class ExponentialScheduler:
    """Sigmas evenly spaced in log between explicit sigma_max and sigma_min."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": STEPS, "sigma_max": ("FLOAT", {"default": 14.614642, **SIGMA_LIMIT}),
                             "sigma_min": ("FLOAT", {"default": 0.0291675, **SIGMA_LIMIT})}}

    RETURN_TYPES = ("SIGMAS",)
    FUNCTION = "get_sigmas"
    CATEGORY = "sampling/custom_sampling/schedulers"

    def get_sigmas(self, steps, sigma_max, sigma_min):
        from runtime.sampling.schedules import exponential_sigmas

        return (exponential_sigmas(steps, sigma_min, sigma_max),)


class SDTurboScheduler:
    """SD-Turbo's 1–10 step schedule (timesteps 999, 899, …), starting later for denoise < 1."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL", {}), "steps": ("INT", {"default": 1, "min": 1, "max": 10}),
                             "denoise": ("FLOAT", {"default": 1.0, "min": 0, "max": 1.0, "step": 0.01})}}

    RETURN_TYPES = ("SIGMAS",)
    FUNCTION = "get_sigmas"
    CATEGORY = "sampling/custom_sampling/schedulers"

    def get_sigmas(self, model, steps, denoise):
        from runtime.sampling.schedules import sdturbo_sigmas

        return (sdturbo_sigmas(model.model_sampling, steps, denoise),)


class SplitSigmas:
    """Split SIGMAS at `step`: high = σ[:step+1], low = σ[step:] (they share σ[step])."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sigmas": ("SIGMAS", {}), "step": ("INT", {"default": 0, "min": 0, "max": 10000})}}

    RETURN_TYPES = ("SIGMAS", "SIGMAS")
    RETURN_NAMES = ("high_sigmas", "low_sigmas")
    FUNCTION = "get_sigmas"
    CATEGORY = "sampling/custom_sampling/sigmas"

    def get_sigmas(self, sigmas, step):
        return (sigmas[:step + 1], sigmas[step:])


class RandomNoise:
    """NOISE drawn from a seed exactly as KSampler draws it."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"noise_seed": SEED}}

    RETURN_TYPES = ("NOISE",)
    FUNCTION = "get_noise"
    CATEGORY = "sampling/custom_sampling/noise"

    def get_noise(self, noise_seed):
        from runtime.sampling.noise import RandomNoise as Noise

        return (Noise(noise_seed),)


class DisableNoise:
    """NOISE that adds nothing (seed 0)."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("NOISE",)
    FUNCTION = "get_noise"
    CATEGORY = "sampling/custom_sampling/noise"

    def get_noise(self):
        from runtime.sampling.noise import DisabledNoise

        return (DisabledNoise(),)


class CFGGuider:
    """GUIDER: classifier-free guidance between positive and negative at scale cfg."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL", {}), "positive": ("CONDITIONING", {}),
                             "negative": ("CONDITIONING", {}), "cfg": CFG}}

    RETURN_TYPES = ("GUIDER",)
    FUNCTION = "get_guider"
    CATEGORY = "sampling/custom_sampling/guiders"

    def get_guider(self, model, positive, negative, cfg):
        from runtime.sampling.guidance import cfg_guider

        return (cfg_guider(model, positive, negative, cfg),)


class BasicGuider:
    """GUIDER: the positive conditioning alone (no CFG)."""

    RELATIVE_PYTHON_MODULE = CUSTOM
    OBJECT_INFO_V3 = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL", {}), "conditioning": ("CONDITIONING", {})}}

    RETURN_TYPES = ("GUIDER",)
    FUNCTION = "get_guider"
    CATEGORY = "sampling/custom_sampling/guiders"

    def get_guider(self, model, conditioning):
        from runtime.sampling.guidance import basic_guider

        return (basic_guider(model, conditioning),)


class ModelSamplingDiscrete:
    """Override how the model's output is read: eps, v-prediction, LCM (50-step distilled table) or x0; zsnr
    rescales the schedule to zero terminal SNR."""

    PREDICTIONS = {"eps": "eps", "v_prediction": "v", "lcm": "lcm", "x0": "x0"}  # ComfyUI's img_to_img: not here

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "sampling": (list(cls.PREDICTIONS),),
                             "zsnr": ("BOOLEAN", {"default": False})}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "advanced/model"

    def patch(self, model, sampling, zsnr=False):
        from runtime.sampling import model_sampling as ms

        if sampling not in self.PREDICTIONS:
            raise ValueError(f"ModelSamplingDiscrete: input 'sampling' must be one of {', '.join(self.PREDICTIONS)}, "
                             f"got {sampling!r}")
        old = model.model_sampling
        kind = ms.ModelSamplingDiscreteDistilled if sampling == "lcm" else ms.ModelSamplingDiscrete
        patched = model.clone()
        patched.model_sampling = kind(self.PREDICTIONS[sampling], old.linear_start, old.linear_end,
                                      old.train_timesteps, zsnr=bool(zsnr))
        return (patched,)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    KSampler, KSamplerAdvanced, SamplerCustom, SamplerCustomAdvanced, KSamplerSelect, BasicScheduler,
    KarrasScheduler, ExponentialScheduler, SDTurboScheduler, SplitSigmas, RandomNoise, DisableNoise, CFGGuider,
    BasicGuider, ModelSamplingDiscrete)}
NODE_DISPLAY_NAME_MAPPINGS = {"KSampler": "KSampler", "KSamplerAdvanced": "KSampler (Advanced)"}
