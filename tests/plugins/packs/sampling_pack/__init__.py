"""A small sampling pack written the way ComfyUI packs are: combos from `comfy.samplers.KSampler`, sampling through
`comfy.sample`, and a sampler function of its own in the k-diffusion style wrapped by `comfy.samplers.KSAMPLER`."""

import comfy.sample
import comfy.samplers


class PackKSampler:
    """KSampler as many packs re-implement it: empty-latent fix, seeded noise, then `comfy.sample.sample`."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "seed": ("INT", {"default": 0, "min": 0}),
                             "steps": ("INT", {"default": 20, "min": 1}), "cfg": ("FLOAT", {"default": 8.0}),
                             "sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
                             "scheduler": (comfy.samplers.KSampler.SCHEDULERS,),
                             "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "latent_image": ("LATENT",),
                             "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "tests/sampling"

    def sample(self, model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, denoise=1.0):
        latent = comfy.sample.fix_empty_latent_channels(model, latent_image["samples"])
        noise = comfy.sample.prepare_noise(latent, seed, latent_image.get("batch_index"))
        samples = comfy.sample.sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent,
                                      denoise=denoise, noise_mask=latent_image.get("noise_mask"), seed=seed)
        return ({**latent_image, "samples": samples},)


def sample_plain_euler(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Euler steps on the probability-flow ODE, written against the k-diffusion calling convention."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
    return x


class PackPlainEuler:
    """A SAMPLER from the pack's own sampler function."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("SAMPLER",)
    FUNCTION = "get_sampler"
    CATEGORY = "tests/sampling"

    def get_sampler(self):
        return (comfy.samplers.KSAMPLER(sample_plain_euler),)


class PackSamplerByName:
    """A SAMPLER by name with an η option, as ComfyUI's own sampler nodes build theirs."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sampler_name": (comfy.samplers.SAMPLER_NAMES,), "eta": ("FLOAT", {"default": 1.0})}}

    RETURN_TYPES = ("SAMPLER",)
    FUNCTION = "get_sampler"
    CATEGORY = "tests/sampling"

    def get_sampler(self, sampler_name, eta):
        return (comfy.samplers.ksampler(sampler_name, {"eta": eta}),)


NODE_CLASS_MAPPINGS = {"PackKSampler": PackKSampler, "PackPlainEuler": PackPlainEuler,
                       "PackSamplerByName": PackSamplerByName}
