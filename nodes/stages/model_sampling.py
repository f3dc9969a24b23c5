"""Nodes that patch how sampling reads a MODEL — its model sampling (σ table and prediction type), as ComfyUI's
`comfy_extras.nodes_model_advanced` has them: ModelSamplingDiscrete.

The sampling nodes themselves are in `sampling.py` (the KSampler family) and `custom_sampling.py` (the SamplerCustom
family). The math lives in `runtime.sampling.model_sampling`, imported inside the function so this module loads
without torch.
"""

from __future__ import annotations


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
        patched = model.clone()
        patched.model_sampling = kind(self.PREDICTIONS[sampling], old.linear_start, old.linear_end,
                                      old.train_timesteps, zsnr=bool(zsnr))
        return (patched,)


NODE_CLASS_MAPPINGS = {"ModelSamplingDiscrete": ModelSamplingDiscrete}
