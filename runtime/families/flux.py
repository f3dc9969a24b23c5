"""Flux.1 (dev, schnell, Krea-dev, Kontext-dev): the double/single-stream transformer over 2×2 patches of a
16-channel latent, rectified-flow sampling, T5-XXL text as context and pooled CLIP-L text as its vector input
(spec families.md §1). Kontext's reference latents are extra image tokens ("offset" placement). Fill (extra mask
and image channels) is not supported yet; nor are the text encoders."""

from runtime.family import Family, TextEncoderSlot
from runtime.latent_format import LatentFormat
from runtime.networks import flux
from runtime.text.tokens import END

DEFAULT_GUIDANCE = 3.5  # distilled guidance when the conditioning sets none (FluxGuidance's default)
FLUX_SHIFT = 1.15  # the fixed μ of dev/Kontext sampling (ModelSamplingFlux derives it from the size instead)
T5_PAD = 0

LATENT_FORMAT = LatentFormat(
    channels=16, scale_factor=0.3611, shift_factor=0.1159,
    rgb_factors=((-0.0346, 0.0244, 0.0681), (0.0034, 0.0210, 0.0687), (0.0275, -0.0668, -0.0433),
                 (-0.0174, 0.0160, 0.0617), (0.0859, 0.0721, 0.0329), (0.0004, 0.0383, 0.0115),
                 (0.0405, 0.0861, 0.0915), (-0.0236, -0.0185, -0.0259), (-0.0245, 0.0250, 0.1180),
                 (0.1008, 0.0755, -0.0421), (-0.0515, 0.0201, 0.0011), (0.0428, -0.0012, -0.0036),
                 (0.0817, 0.0765, 0.0749), (-0.1264, -0.0522, -0.1103), (-0.0280, -0.0881, -0.0499),
                 (-0.1262, -0.0982, -0.0778)),
    rgb_bias=(-0.0329, -0.0718, -0.0851),
)


def match(shapes: dict, prefix: str) -> dict | None:
    """Any BFL-layout Flux.1 transformer (its pooled-text input `vector_in` tells it from Chroma) whose input is its
    output's width (Fill's wider input is not built)."""
    if any(prefix + key not in shapes for key in ("img_in.weight", "final_layer.linear.weight",
                                                  "vector_in.in_layer.weight")):
        return None
    config = flux.config_from_shapes(shapes, prefix)
    return config if config["in_channels"] == config["out_channels"] * flux.PATCH ** 2 else None


def model_sampling(prediction_type: str, state_dict):
    """Guidance-distilled models (dev, Kontext) sample on the Flux schedule, μ = 1.15; schnell on plain flow."""
    from runtime.sampling.model_sampling import FlowSampling, FluxSampling

    if any(key.endswith("guidance_in.in_layer.weight") for key in state_dict):
        return FluxSampling(shift=FLUX_SHIFT)
    return FlowSampling(shift=1.0, multiplier=1.0)


def extra_conds(model, options: dict, latent_shape) -> dict:
    """The vector input from `pooled_output` (zeros without one), for guidance-distilled models `guidance`
    (FluxGuidance; 3.5 when unset, None when disabled), and Kontext's `reference_latents` (ReferenceLatent: raw
    VAE latents) as extra image tokens."""
    import torch

    config = model.unet.config
    pooled = options.get("pooled_output")
    if pooled is None:
        pooled = torch.zeros(1, config.pooled_projection_dim)
    pooled = pooled.reshape(1, -1).float()
    if pooled.shape[1] != config.pooled_projection_dim:
        raise ValueError(f"Flux: the conditioning's pooled_output is {pooled.shape[1]} wide; this model takes "
                         f"{config.pooled_projection_dim} (pooled CLIP-L text)")
    extras = {"pooled_projections": pooled}
    guidance = options.get("guidance", DEFAULT_GUIDANCE)
    if config.guidance_embeds and guidance is not None:
        extras["guidance"] = torch.tensor([float(guidance)])
    references = options.get("reference_latents")
    if references:
        method = options.get("reference_latents_method", "offset")
        if method != "offset":
            raise ValueError(f"Flux: reference_latents_method {method!r} is not supported yet (only 'offset')")
        tokens, ids = flux.reference_tokens([model.latent_format.process_in(r.float()) for r in references])
        extras.update(reference_tokens=tokens, reference_ids=ids.unsqueeze(0))
    return extras


FAMILY = Family(
    name="flux", label="Flux.1", network=flux.FLUX, match=match, latent_format=LATENT_FORMAT,
    prediction_type=lambda state_dict, prefix, config: "flow", model_sampling=model_sampling,
    extra_conds=extra_conds,
    # declared for the single-file layout and CLIP types; loading T5-XXL is not built yet
    text_encoders=(TextEncoderSlot("l", pad_token=END, layer=None, norm_hidden=True,
                                   checkpoint_prefixes=(("text_encoders.clip_l.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te1_",), ("text_encoder.",))),
                   TextEncoderSlot("t5xxl", pad_token=T5_PAD, layer=None, norm_hidden=True,
                                   checkpoint_prefixes=(("text_encoders.t5xxl.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te2_",), ("text_encoder_2.",)))),
    vae_prefix="vae.", clip_types=("flux",),
)
