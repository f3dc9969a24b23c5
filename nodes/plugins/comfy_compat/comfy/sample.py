"""ComfyUI's `comfy.sample` for custom nodes: seeded noise, empty-latent widening and KSampler-style sampling.

Each function hands over to diffloom's sampling code (`runtime.sampling`) with ComfyUI's argument names and order;
torch is imported only when one runs.
"""

from __future__ import annotations

from nodes.plugins.compat_import import missing_symbol

__all__ = ["fix_empty_latent_channels", "prepare_noise", "sample", "sample_custom"]


def prepare_noise(latent_image, seed: int, noise_inds=None):
    """Initial noise for `latent_image` from `seed` (`runtime.sampling.noise.prepare_noise`; `noise_inds` are the
    LATENT's `batch_index`)."""
    from runtime.sampling.noise import prepare_noise as prepare

    return prepare(latent_image, seed, noise_inds)


def fix_empty_latent_channels(model, latent_image, downscale_ratio_spacial=None):
    """An all-zero latent widened to the MODEL's latent channels
    (`runtime.sampling.sample.fix_empty_latent_channels`)."""
    from runtime.sampling.sample import fix_empty_latent_channels as fix

    return fix(latent_image, model.latent_format.channels)


def sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, denoise=1.0,
           disable_noise=False, start_step=None, last_step=None, force_full_denoise=False, noise_mask=None,
           sigmas=None, callback=None, disable_pbar=False, seed=None):
    """KSampler on given noise; raw samples (`runtime.sampling.ksampler.ksampler_from_noise`). As in ComfyUI,
    `disable_noise` has no effect here: pass zeros as `noise` instead."""
    from runtime.sampling.ksampler import ksampler_from_noise

    return ksampler_from_noise(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                               denoise, start_step, last_step, force_full_denoise, noise_mask, sigmas, callback, seed)


def sample_custom(model, noise, cfg, sampler, sigmas, positive, negative, latent_image, noise_mask=None,
                  callback=None, disable_pbar=False, seed=None):
    """A SAMPLER over SIGMAS with CFG; raw samples (`runtime.sampling.guidance.Guider(...).sample`)."""
    from runtime.sampling.guidance import Guider

    return Guider(model, positive, negative, cfg).sample(noise, latent_image, sampler, sigmas, noise_mask, callback,
                                                         disable_pbar, seed)


def __getattr__(name: str):
    raise missing_symbol(__name__, name, __all__)
