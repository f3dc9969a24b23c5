"""ComfyUI's `comfy.samplers` for custom nodes: sampler/scheduler names for combos and SAMPLER objects.

Everything here is diffloom's own sampling code (`runtime.sampling`) under ComfyUI's names; torch is imported only
when a function runs, so packs can build their combos from `KSampler.SAMPLERS` at import time cheaply.
"""

from __future__ import annotations

import functools

from nodes.plugins.compat_import import lazy_exports
from runtime.sampling.names import SAMPLER_NAMES as _SAMPLER_NAMES, SCHEDULER_NAMES as _SCHEDULER_NAMES

__all__ = ["CFGGuider", "KSAMPLER", "KSAMPLER_NAMES", "KSampler", "SAMPLER_NAMES", "SCHEDULER_NAMES",
           "calculate_sigmas", "ksampler", "sampler_object"]

SAMPLER_NAMES = list(_SAMPLER_NAMES)
SCHEDULER_NAMES = list(_SCHEDULER_NAMES)
# ComfyUI lists ddim and the UniPC pair apart from the k-diffusion samplers
KSAMPLER_NAMES = [name for name in SAMPLER_NAMES if name not in ("ddim", "uni_pc", "uni_pc_bh2")]


class KSampler:
    """ComfyUI's `comfy.samplers.KSampler` (not the KSampler node): the names KSampler offers (`SAMPLERS`,
    `SCHEDULERS`), and a sampler bound to a model, steps and schedule — `runtime.sampling.ksampler` under
    ComfyUI's names."""

    SAMPLERS = SAMPLER_NAMES
    SCHEDULERS = SCHEDULER_NAMES

    def __init__(self, model, steps: int, device=None, sampler: str | None = None, scheduler: str | None = None,
                 denoise: float | None = None, model_options: dict | None = None):
        from runtime.sampling.ksampler import ksampler_sigmas

        self.model, self.steps = model, int(steps)
        self.sampler = sampler or SAMPLER_NAMES[0]
        self.scheduler = scheduler or SCHEDULER_NAMES[0]
        self.denoise = 1.0 if denoise is None else float(denoise)
        self.sigmas = ksampler_sigmas(model.model_sampling, self.sampler, self.scheduler, self.steps, denoise)

    def sample(self, noise, positive, negative, cfg: float, latent_image=None, start_step=None, last_step=None,
               force_full_denoise=False, denoise_mask=None, sigmas=None, callback=None, disable_pbar=False, seed=None):
        """Raw samples from raw `latent_image` + `noise` (`runtime.sampling.ksampler.ksampler_from_noise`)."""
        from runtime.sampling.ksampler import ksampler_from_noise

        return ksampler_from_noise(self.model, noise, self.steps, cfg, self.sampler, self.scheduler, positive,
                                   negative, latent_image, self.denoise, start_step, last_step, force_full_denoise,
                                   denoise_mask, self.sigmas if sigmas is None else sigmas, callback, seed)


def ksampler(sampler_name: str, extra_options: dict | None = None, inpaint_options: dict | None = None):
    """The named SAMPLER with solver options (η, s_noise, …); `inpaint_options={"random": True}` re-noises the kept
    inpainting region with its own noise, as ddim does."""
    import dataclasses

    from runtime.sampling.samplers import sampler_object

    sampler = sampler_object(sampler_name)
    random = bool((inpaint_options or {}).get("random", sampler.random_inpaint_noise))
    return dataclasses.replace(sampler, options=dict(extra_options or {}), random_inpaint_noise=random)


def KSAMPLER(sampler_function, extra_options: dict | None = None, inpaint_options: dict | None = None):
    """A SAMPLER from a k-diffusion-style function `f(model, x, sigmas, extra_args=None, callback=None,
    disable=None, **extra_options)`, where `model(x, sigma_batch, **extra_args)` returns the denoised latent and
    `callback` receives `{"i", "x", "sigma", "sigma_hat", "denoised"}` per step."""
    from runtime.sampling.samplers import Sampler

    return Sampler(getattr(sampler_function, "__name__", "custom"),
                   functools.partial(_run_k_diffusion_style, sampler_function), options=dict(extra_options or {}),
                   random_inpaint_noise=bool((inpaint_options or {}).get("random", False)))


def _run_k_diffusion_style(function, denoiser, x, sigmas, extra, **options):
    """Calls `function` the k-diffusion way on diffloom's denoiser `(x, σ) -> denoised` and step callback."""
    def model(x, sigma, **_):
        return denoiser(x, sigma.reshape(-1)[0])  # one σ for the whole batch, as every sampler passes

    def callback(info: dict) -> None:
        extra.step_done(info["i"], info["x"], info["denoised"])
    return function(model, x, sigmas, extra_args={"seed": extra.seed}, callback=callback, disable=True, **options)


__getattr__ = lazy_exports(__name__, {"sampler_object": "runtime.sampling.samplers:sampler_object",
                                      "calculate_sigmas": "runtime.sampling.schedules:calculate_sigmas",
                                      "CFGGuider": "runtime.sampling.guidance:Guider"}, __all__)
