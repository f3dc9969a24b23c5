"""Nodes that patch how sampling reads a MODEL — its model sampling (σ table and prediction type), as ComfyUI's
`comfy_extras.nodes_model_advanced` has them: ModelSamplingDiscrete (discrete-time tables), ModelSamplingSD3 and
ModelSamplingAuraFlow (discrete flow), ModelSamplingFlux (the Flux schedule, μ from the picture size).

The sampling nodes themselves are in `sampling.py` (the KSampler family) and `custom_sampling.py` (the SamplerCustom
family). The math lives in `runtime.sampling.model_sampling`, imported inside the function so this module loads
without torch.
"""

from __future__ import annotations

from nodes.constants import MAX_RESOLUTION


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
        from runtime.sampling.model_sampling import DiscreteSampling, DistilledDiscreteSampling

        if sampling not in self.PREDICTIONS:
            raise ValueError(f"ModelSamplingDiscrete: input 'sampling' must be one of {', '.join(self.PREDICTIONS)}, "
                             f"got {sampling!r}")
        old = model.model_sampling
        kind = DistilledDiscreteSampling if sampling == "lcm" else DiscreteSampling
        # a flow model has no β schedule of its own: like ComfyUI, it gets the default (SD) one
        table = (getattr(old, "linear_start", 0.00085), getattr(old, "linear_end", 0.012),
                 getattr(old, "train_timesteps", 1000))
        return (_with_sampling(model, kind(self.PREDICTIONS[sampling], *table, zsnr=bool(zsnr))),)


# Node declarations below are data (exempt from the no-repeated-block habit). ComfyUI 0.8.0's sample has none of
# them, so their declarations (categories included) are those of the recent ComfyUI's /object_info.
SHIFT_LIMITS = {"min": 0.0, "max": 100.0, "step": 0.01}


def _with_sampling(model, sampling):
    patched = model.clone()
    patched.model_sampling = sampling
    return patched


class ModelSamplingSD3:
    """Rectified-flow sampling on ComfyUI's discrete flow table with timestep shift `shift` (timestep = σ·1000)."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_model_advanced"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "shift": ("FLOAT", {"default": 3.0, **SHIFT_LIMITS})}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "model/patch/stable diffusion"

    def patch(self, model, shift, multiplier=1000):
        from runtime.sampling.model_sampling import FlowSampling

        return (_with_sampling(model, FlowSampling(shift, multiplier)),)


class ModelSamplingAuraFlow(ModelSamplingSD3):
    """Discrete flow with timestep = σ (multiplier 1), as AuraFlow, Chroma and Flux schnell read it."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "shift": ("FLOAT", {"default": 1.73, **SHIFT_LIMITS})}}

    FUNCTION = "patch_aura"
    CATEGORY = "model/patch"

    def patch_aura(self, model, shift):
        return self.patch(model, shift, multiplier=1.0)


class ModelSamplingFlux:
    """The Flux schedule with μ interpolated from the picture's token count: base_shift at 256 tokens
    (256×256 px), max_shift at 4096 (1024×1024 px)."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_model_advanced"

    @classmethod
    def INPUT_TYPES(cls):
        size = {"min": 16, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {"model": ("MODEL",),
                             "max_shift": ("FLOAT", {"default": 1.15, **SHIFT_LIMITS, "advanced": True}),
                             "base_shift": ("FLOAT", {"default": 0.5, **SHIFT_LIMITS, "advanced": True}),
                             "width": ("INT", {"default": 1024, **size}),
                             "height": ("INT", {"default": 1024, **size})}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "model/patch/flux"

    def patch(self, model, max_shift, base_shift, width, height):
        from runtime.sampling.model_sampling import FluxSampling, flux_mu

        return (_with_sampling(model, FluxSampling(flux_mu(width, height, max_shift, base_shift))),)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    ModelSamplingDiscrete, ModelSamplingSD3, ModelSamplingAuraFlow, ModelSamplingFlux)}
