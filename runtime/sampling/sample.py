"""One sampling run (spec §7.4): a SAMPLER over SIGMAS with a GUIDER as the denoiser, from a raw latent and its
noise — latent scaling, initial noise scaling, inpainting mask, ControlNet set-up, progress and previews.

Every sampling node and plugin entry point ends in `sample`: KSampler through `ksampler`, the SamplerCustom nodes
directly, a GUIDER's own `sample` method (ComfyUI's) through `guidance`. Below it, the SAMPLER (`samplers`) runs
its solver loop (`solvers`) with the guider as the denoiser.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from executor import progress
from runtime.sampling.preview import step_preview
from runtime.sampling.samplers import Sampler
from runtime.sampling.solvers import SolverExtras


# what empty-latent nodes (EmptySD3LatentImage, …) record about their latent's scale; a sampler's output drops them
LATENT_RATIO_KEYS = ("downscale_ratio_spacial", "downscale_ratio_temporal")


def sampled_latent(latent: dict, samples: torch.Tensor) -> dict:
    """A sampling node's output LATENT: a copy of its input with `samples` replaced and the empty-latent ratio keys
    removed, as in ComfyUI."""
    out = {key: value for key, value in latent.items() if key not in LATENT_RATIO_KEYS}
    out["samples"] = samples
    return out


def fix_empty_latent_channels(latent: torch.Tensor, channels: int) -> torch.Tensor:
    """An all-zero latent with the wrong channel count (e.g. from EmptyLatentImage) is widened to the model's."""
    if latent.shape[1] != channels and torch.count_nonzero(latent) == 0:
        repeats = -(-channels // latent.shape[1])
        return latent.repeat(1, repeats, *([1] * (latent.ndim - 2)))[:, :channels]
    return latent


def reshape_mask(mask: torch.Tensor, shape) -> torch.Tensor:
    """A noise mask ([H, W], [B, H, W] or [B, 1, H, W], any resolution) as a [B, C, h, w] weight for the latent."""
    mask = mask.float().reshape(-1, 1, *mask.shape[-2:])
    mask = F.interpolate(mask, size=tuple(shape[2:]), mode="bilinear")
    mask = mask.repeat(1, shape[1], 1, 1)[:, :shape[1]]
    if mask.shape[0] < shape[0]:
        mask = mask.repeat(math.ceil(shape[0] / mask.shape[0]), 1, 1, 1)
    return mask[:shape[0]]


class _InpaintDenoiser:
    """Keeps the unmasked region on the original latent: re-noised to σ (the model sampling's way) on the way in,
    clean on the way out."""

    def __init__(self, denoiser, mask: torch.Tensor, latent: torch.Tensor, noise: torch.Tensor, model_sampling):
        self.denoiser, self.mask, self.latent, self.noise = denoiser, mask, latent, noise
        self.model_sampling = model_sampling

    def __call__(self, x, sigma):
        keep = 1.0 - self.mask
        x = x * self.mask + self.model_sampling.noise_scaling(sigma, self.noise, self.latent, False) * keep
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

    `guider` is a GUIDER (`guidance.Guider`, read through `model`, `prepare`, `keep_uncond`, `controls` and
    `last_uncond`) and is itself the denoiser. Empty `sigmas` (a step window holding no step) return `latent` as it
    is. Progress (value = step + 1 of len(sigmas) − 1) and a latent→RGB preview go to the executor after every
    step; `callback(step, x0, x, total_steps)` (ComfyUI's signature, model-space tensors) is called too when given.
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
        denoiser = _InpaintDenoiser(denoiser, mask, latent, inpaint_noise, ms)

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
            extras = SolverExtras(seed=seed, callback=on_step, uncond_source=lambda: guider.last_uncond,
                                  model_sampling=ms)
            x = sampler(denoiser, x, sigmas, extras)
    finally:
        for control in controls:
            if hasattr(control, "cleanup"):
                control.cleanup()
    x = ms.inverse_noise_scaling(float(sigmas[-1]), x)
    samples = latent_format.process_out(x.float()).cpu()
    x0 = last_x0.get("x0")
    return samples, (latent_format.process_out(x0.float()).cpu() if x0 is not None else None)
