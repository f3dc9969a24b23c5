"""KSampler by name (spec §7.4): the seed's noise, the named schedule cut to the requested steps, CFG guidance with
the named sampler — then one sampling run.

A KSampler run reads top to bottom through this package: `ksampler` (noise, schedule, guider, sampler by name) →
`guidance` (the GUIDER, the run's denoiser) → `sample` (the run: latent and noise scaling, inpainting, progress) →
`samplers` (the SAMPLER named) → `solvers` (the step loop). `schedules`, `model_sampling` and `noise` supply the
sigmas, the σ table and the noise.
"""

from __future__ import annotations

import torch

from runtime.sampling.guidance import Guider
from runtime.sampling.noise import SeededNoise, ZeroNoise
from runtime.sampling.sample import fix_empty_latent_channels, sample, sampled_latent
from runtime.sampling.samplers import sampler_object
from runtime.sampling.schedules import calculate_sigmas

# these samplers get one step more and drop the second-to-last σ (their last step would be wasted)
DISCARD_PENULTIMATE_SIGMA = frozenset({"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"})


def ksampler_from_seed(model, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str, positive,
                       negative, latent: dict, denoise: float = 1.0, disable_noise: bool = False,
                       start_step: int | None = None, last_step: int | None = None,
                       force_full_denoise: bool = False) -> dict:
    """The KSampler and KSamplerAdvanced nodes: noise from `seed` (none with `disable_noise`) for the LATENT, then
    `ksampler_from_noise`; returns a copy of `latent` with the sampled `samples` (`sampled_latent`)."""
    samples = fix_empty_latent_channels(latent["samples"], model.latent_format.channels)
    noise = (ZeroNoise() if disable_noise else SeededNoise(seed)).generate_noise({**latent, "samples": samples})
    return sampled_latent(latent, ksampler_from_noise(model, noise, steps, cfg, sampler_name, scheduler, positive,
                                                      negative, samples, denoise, start_step, last_step,
                                                      force_full_denoise, latent.get("noise_mask"), seed=seed))


def ksampler_from_noise(model, noise: torch.Tensor, steps: int, cfg: float, sampler_name: str, scheduler: str,
                        positive, negative, samples: torch.Tensor, denoise: float = 1.0,
                        start_step: int | None = None, last_step: int | None = None,
                        force_full_denoise: bool = False, noise_mask: torch.Tensor | None = None,
                        sigmas: torch.Tensor | None = None, callback=None, seed: int | None = None) -> torch.Tensor:
    """KSampler on given noise (ComfyUI's `comfy.sample.sample` and `comfy.samplers.KSampler.sample`): the named
    schedule (or `sigmas`) cut to [start_step, last_step], CFG sampling from raw `samples`; returns raw samples."""
    if sigmas is None:
        sigmas = ksampler_sigmas(model.model_sampling, sampler_name, scheduler, steps, denoise)
    sigmas = step_window(sigmas, start_step, last_step, force_full_denoise)
    guider = Guider(model, positive, negative, cfg)
    return sample(guider, noise, samples, sampler_object(sampler_name), sigmas, noise_mask, seed, callback)[0]


def ksampler_sigmas(model_sampling, sampler_name: str, scheduler: str, steps: int,
                    denoise: float | None) -> torch.Tensor:
    """KSampler's schedule: partial denoise keeps the tail of a longer one; some samplers drop the penultimate σ."""
    discard = sampler_name in DISCARD_PENULTIMATE_SIGMA

    def schedule(n):
        sigmas = calculate_sigmas(model_sampling, scheduler, n + 1 if discard else n)
        return torch.cat([sigmas[:-2], sigmas[-1:]]) if discard else sigmas
    if denoise is None or denoise > 0.9999:
        return schedule(steps)
    if denoise <= 0.0:
        return torch.zeros(0)
    return schedule(int(steps / denoise))[-(steps + 1):]


def step_window(sigmas: torch.Tensor, start_step: int | None, last_step: int | None,
                force_full_denoise: bool) -> torch.Tensor:
    """KSamplerAdvanced's window: the sigmas of steps [start_step, last_step]; the last kept σ becomes 0 with
    `force_full_denoise`. A window that holds no step is empty (the run then returns its latent as it is)."""
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[:last_step + 1].clone()
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step >= len(sigmas) - 1:
            return sigmas[:0]
        sigmas = sigmas[start_step:]
    return sigmas
