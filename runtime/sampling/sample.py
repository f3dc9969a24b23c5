"""One sampling run (spec §7.4): latent scaling, initial noise, inpainting mask, solver, progress and previews."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from executor import progress
from runtime.sampling.noise import fix_empty_latent_channels, prepare_noise
from runtime.sampling.preview import step_preview
from runtime.sampling.samplers import DISCARD_PENULTIMATE_SIGMA, Sampler, sampler_object
from runtime.sampling.schedules import calculate_sigmas
from runtime.sampling.solvers import SolverExtras


def reshape_mask(mask: torch.Tensor, shape) -> torch.Tensor:
    """A noise mask ([H, W], [B, H, W] or [B, 1, H, W], any resolution) as a [B, C, h, w] weight for the latent."""
    mask = mask.float().reshape(-1, 1, *mask.shape[-2:])
    mask = F.interpolate(mask, size=tuple(shape[2:]), mode="bilinear")
    mask = mask.repeat(1, shape[1], 1, 1)[:, :shape[1]]
    if mask.shape[0] < shape[0]:
        mask = mask.repeat(math.ceil(shape[0] / mask.shape[0]), 1, 1, 1)
    return mask[:shape[0]]


class _InpaintDenoiser:
    """Keeps the unmasked region on the original latent: re-noised to σ on the way in, clean on the way out."""

    def __init__(self, denoiser, mask: torch.Tensor, latent: torch.Tensor, noise: torch.Tensor):
        self.denoiser, self.mask, self.latent, self.noise = denoiser, mask, latent, noise

    def __call__(self, x, sigma):
        keep = 1.0 - self.mask
        x = x * self.mask + (self.latent + self.noise * sigma) * keep
        return self.denoiser(x, sigma) * self.mask + self.latent * keep


def _interruptible(denoiser):
    def call(x, sigma):
        progress.check_interrupt()
        return denoiser(x, sigma)
    return call


def sample(guider, noise: torch.Tensor, latent: torch.Tensor, sampler: Sampler, sigmas: torch.Tensor,
           denoise_mask: torch.Tensor | None = None, seed: int | None = None,
           callback=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run `sampler` over `sigmas` from raw `latent` + `noise`; returns (raw samples, last raw x0 prediction or None).

    Progress (value = step + 1 of len(sigmas) − 1) and a latent→RGB preview go to the executor after every step;
    `callback(step, x0, x, total_steps)` (ComfyUI's signature, model-space tensors) is called too when given.
    """
    if sigmas.numel() == 0:
        return latent, None
    model = guider.model
    model.load()
    device = model.device
    ms, latent_format = model.model_sampling, model.latent_format
    raw_latent = latent.to(device, torch.float32)
    latent = raw_latent
    if torch.count_nonzero(latent) > 0:  # an empty latent is left at zero, not scaled
        latent = latent_format.process_in(latent)
    noise = noise.to(device, torch.float32)
    sigmas = sigmas.to(device, torch.float32)
    mask = reshape_mask(denoise_mask, noise.shape).to(device) if denoise_mask is not None else None

    # inpainting models: without InpaintModelConditioning, the noise mask and the input latent fill their extra
    # channels (ComfyUI's rule; a conditioning's own concat_mask / concat_latent_image wins)
    extra_options = {} if mask is None else {"concat_mask": mask[:, :1], "concat_latent_image": raw_latent}
    extra_options["seed"] = seed  # e.g. unCLIP's noise augmentation draws from it
    guider.prepare(noise.shape, extra_options)
    guider.keep_uncond = sampler.needs_uncond
    controls = guider.controls()
    for control in controls:
        if hasattr(control, "pre_run"):
            control.pre_run(model)

    denoiser = _interruptible(guider)
    if mask is not None:
        inpaint_noise = noise
        if sampler.random_inpaint_noise:
            generator = torch.Generator(device="cpu").manual_seed((41 if seed is None else int(seed)) + 1)
            inpaint_noise = torch.randn(noise.shape, generator=generator).to(device, noise.dtype)
        denoiser = _InpaintDenoiser(denoiser, mask, latent, inpaint_noise)

    total = len(sigmas) - 1
    last_x0 = {}

    def on_step(i, x, denoised):
        last_x0["x0"] = denoised
        if callback is not None:
            callback(i, denoised, x, total)
        progress.report(min(i + 1, total), total, step_preview(latent_format, denoised))

    x = ms.noise_scaling(float(sigmas[0]), noise, latent, ms.is_max_denoise(float(sigmas[0])))
    try:
        with torch.no_grad():
            extras = SolverExtras(seed=seed, callback=on_step, uncond_source=lambda: guider.last_uncond)
            x = sampler(denoiser, x, sigmas, extras)
    finally:
        for control in controls:
            if hasattr(control, "cleanup"):
                control.cleanup()
    x = ms.inverse_noise_scaling(float(sigmas[-1]), x)
    samples = latent_format.process_out(x.float()).cpu()
    x0 = last_x0.get("x0")
    return samples, (latent_format.process_out(x0.float()).cpu() if x0 is not None else None)


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


def ksampler_sample(model, noise: torch.Tensor, steps: int, cfg: float, sampler_name: str, scheduler: str, positive,
                    negative, samples: torch.Tensor, denoise: float = 1.0, start_step: int | None = None,
                    last_step: int | None = None, force_full_denoise: bool = False,
                    noise_mask: torch.Tensor | None = None, sigmas: torch.Tensor | None = None, callback=None,
                    seed: int | None = None) -> torch.Tensor:
    """KSampler on given noise (ComfyUI's `comfy.sample.sample`): the named schedule (or `sigmas`) cut to
    [start_step, last_step], CFG sampling from raw `samples`; returns raw samples."""
    from runtime.sampling.guidance import cfg_guider

    if sigmas is None:
        sigmas = ksampler_sigmas(model.model_sampling, sampler_name, scheduler, steps, denoise)
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[:last_step + 1].clone()
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step >= len(sigmas) - 1:
            return samples
        sigmas = sigmas[start_step:]
    guider = cfg_guider(model, positive, negative, cfg)
    return sample(guider, noise, samples, sampler_object(sampler_name), sigmas, noise_mask, seed, callback)[0]


def common_ksampler(model, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str, positive,
                    negative, latent: dict, denoise: float = 1.0, disable_noise: bool = False,
                    start_step: int | None = None, last_step: int | None = None,
                    force_full_denoise: bool = False) -> dict:
    """KSampler / KSamplerAdvanced: noise from the seed, the schedule cut to [start_step, last_step], CFG sampling."""
    samples = fix_empty_latent_channels(latent["samples"], model.latent_format.channels)
    if disable_noise:
        noise = torch.zeros(samples.shape, dtype=samples.dtype, layout=samples.layout, device="cpu")
    else:
        noise = prepare_noise(samples, seed, latent.get("batch_index"))
    out = dict(latent)
    out["samples"] = ksampler_sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, samples,
                                     denoise, start_step, last_step, force_full_denoise, latent.get("noise_mask"),
                                     seed=seed)
    return out
