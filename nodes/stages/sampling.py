"""The KSampler family (spec §8.5): nodes that sample with a sampler and a scheduler chosen by name, as ComfyUI's
`nodes.py` has them — KSampler and KSamplerAdvanced.

Where sampling nodes live: this module holds the all-in-one samplers of ComfyUI's `nodes` module;
`custom_sampling.py` the SamplerCustom family (ComfyUI's `comfy_extras.nodes_custom_sampler`: the samplers that
take SAMPLER, SIGMAS, NOISE and GUIDER values, and every node that builds one); `model_sampling.py` the nodes that
patch a MODEL's model sampling (ComfyUI's `comfy_extras.nodes_model_advanced`). The input declarations both
families share (SEED, STEPS, CFG, DENOISE) and the LATENT check are defined here. The math lives in
`runtime.sampling` (`ksampler` is this family's entry), imported inside the functions so this module loads without
torch.
"""

from __future__ import annotations

from nodes.constants import SEED_MAX
from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES

SEED = ("INT", {"default": 0, "min": 0, "max": SEED_MAX, "control_after_generate": True})
STEPS = ("INT", {"default": 20, "min": 1, "max": 10000})
CFG = ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01})
DENOISE = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})


def check_latent(node: str, latent) -> None:
    """A sampling node's `latent_image` must be a LATENT dict."""
    if not isinstance(latent, dict) or "samples" not in latent:
        raise ValueError(f"{node}: input 'latent_image' must be a LATENT dict with 'samples', "
                         f"got {type(latent).__name__}")


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
        from runtime.sampling.ksampler import ksampler_from_seed

        check_latent("KSampler", latent_image)
        return (ksampler_from_seed(model, seed, steps, cfg, sampler_name, scheduler, positive, negative,
                                   latent_image, denoise=denoise),)


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
        from runtime.sampling.ksampler import ksampler_from_seed

        check_latent("KSamplerAdvanced", latent_image)
        return (ksampler_from_seed(model, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative,
                                   latent_image, denoise=denoise, disable_noise=add_noise == "disable",
                                   start_step=start_at_step, last_step=end_at_step,
                                   force_full_denoise=return_with_leftover_noise != "enable"),)


NODE_CLASS_MAPPINGS = {"KSampler": KSampler, "KSamplerAdvanced": KSamplerAdvanced}
NODE_DISPLAY_NAME_MAPPINGS = {"KSampler": "KSampler", "KSamplerAdvanced": "KSampler (Advanced)"}
