"""Chroma (Chroma1-HD): a Flux.1-like transformer whose modulations come from one "approximator" network, on Flux's
16-channel latent, with real CFG and T5-XXL text as its only conditioning (spec families.md §2). Chroma Radiance
(pixel space) is not supported; nor is the T5 text encoder yet."""

from runtime.family import Family, TextEncoderSlot
from runtime.families.flux import LATENT_FORMAT
from runtime.networks import chroma

CHROMA_SHIFT = 1.15  # the flux schedule's μ by default; templates replace it with ModelSamplingAuraFlow(shift 1)
T5_PAD = 0


def match(shapes: dict, prefix: str) -> dict | None:
    """An original-layout Chroma transformer (the approximator's keys present) whose input is its output's width."""
    needed = ("img_in.weight", "final_layer.linear.weight", "distilled_guidance_layer.in_proj.weight",
              "distilled_guidance_layer.out_proj.weight")
    if any(prefix + key not in shapes for key in needed):
        return None
    config = chroma.config_from_shapes(shapes, prefix)
    return config if config["in_channels"] == config["out_channels"] * chroma.PATCH ** 2 else None


def model_sampling(prediction_type: str, state_dict):
    from runtime.sampling.model_sampling import FluxSampling

    return FluxSampling(shift=CHROMA_SHIFT)


def extra_conds(model, options: dict, latent_shape) -> dict:
    """Nothing beyond the context: no pooled vector, and the distilled guidance is fixed at 0 (Chroma's default;
    the diffusers module takes no other value, so a conditioning asking for another one is refused)."""
    guidance = options.get("guidance")
    if guidance is not None and float(guidance) != 0.0:
        raise ValueError(f"Chroma: a distilled guidance of {guidance} is not supported (only 0, Chroma's default); "
                         "remove FluxGuidance from the graph")
    return {}


FAMILY = Family(
    name="chroma", label="Chroma", network=chroma.CHROMA, match=match, latent_format=LATENT_FORMAT,
    prediction_type=lambda state_dict, prefix, config: "flow", model_sampling=model_sampling,
    extra_conds=extra_conds,
    # declared for the single-file layout and CLIP type; loading T5-XXL is not built yet
    text_encoders=(TextEncoderSlot("t5xxl", pad_token=T5_PAD, layer=None, norm_hidden=True,
                                   checkpoint_prefixes=(("text_encoders.t5xxl.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te_",), ("text_encoder.",))),),
    vae_prefix="vae.", clip_types=("chroma",),
    priority=1,  # Flux's rule accepts any BFL-layout double/single-block transformer; this one needs the approximator
)
