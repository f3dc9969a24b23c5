"""Stable Diffusion 3.5 (Large, Large-Turbo, Medium; SD3.0 Medium's network too): the MMDiT over 2×2 patches of a
16-channel latent, discrete-flow sampling with shift 3, CLIP-L ‖ CLIP-G ‖ T5-XXL text as context and pooled
CLIP-L ‖ CLIP-G text as its vector input (spec families.md §3). The text encoders are declared but not built yet."""

from runtime.family import Family, TextEncoderSlot
from runtime.latent_format import LatentFormat
from runtime.networks import sd3
from runtime.text.tokens import END

SHIFT = 3.0  # ModelSamplingSD3's default and the family's sampling settings
T5_PAD = 0

LATENT_FORMAT = LatentFormat(
    channels=16, scale_factor=1.5305, shift_factor=0.0609,
    rgb_factors=((-0.0922, -0.0175, 0.0749), (0.0311, 0.0633, 0.0954), (0.1994, 0.0927, 0.0458),
                 (0.0856, 0.0339, 0.0902), (0.0587, 0.0272, -0.0496), (-0.0006, 0.1104, 0.0309),
                 (0.0978, 0.0306, 0.0427), (-0.0042, 0.1038, 0.1358), (-0.0194, 0.0020, 0.0669),
                 (-0.0488, 0.0130, -0.0268), (0.0922, 0.0988, 0.0951), (-0.0278, 0.0524, -0.0542),
                 (0.0332, 0.0456, 0.0895), (-0.0069, -0.0030, -0.0810), (-0.0596, -0.0465, -0.0293),
                 (-0.1448, -0.1463, -0.1189)),
    rgb_bias=(0.2394, 0.2135, 0.1925),
)


def match(shapes: dict, prefix: str) -> dict | None:
    """Any Stability-layout MMDiT whose output is its input's width."""
    needed = ("x_embedder.proj.weight", "pos_embed", "context_embedder.weight", "y_embedder.mlp.0.weight",
              "final_layer.linear.weight")
    if any(prefix + key not in shapes for key in needed):
        return None
    config = sd3.config_from_shapes(shapes, prefix)
    return config if config["in_channels"] == config["out_channels"] else None


def model_sampling(prediction_type: str, state_dict):
    from runtime.sampling.model_sampling import FlowSampling

    return FlowSampling(shift=SHIFT, multiplier=1000.0)


def extra_conds(model, options: dict, latent_shape) -> dict:
    """The vector input from `pooled_output` (zeros of the pooled width without one)."""
    import torch

    width = model.unet.config.pooled_projection_dim
    pooled = options.get("pooled_output")
    if pooled is None:
        pooled = torch.zeros(1, width)
    pooled = pooled.reshape(1, -1).float()
    if pooled.shape[1] != width:
        raise ValueError(f"SD3.5: the conditioning's pooled_output is {pooled.shape[1]} wide; this model takes "
                         f"{width} (pooled CLIP-L ‖ CLIP-G text)")
    return {"pooled_projections": pooled}


FAMILY = Family(
    name="sd3", label="SD3.5", network=sd3.SD3, match=match, latent_format=LATENT_FORMAT,
    prediction_type=lambda state_dict, prefix, config: "flow", model_sampling=model_sampling,
    extra_conds=extra_conds,
    # declared for the single-file layout and CLIP types; building them (T5-XXL above all) is not done yet
    text_encoders=(TextEncoderSlot("l", pad_token=END, layer=-2, norm_hidden=False,
                                   checkpoint_prefixes=(("text_encoders.clip_l.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te1_",), ("text_encoder.",))),
                   TextEncoderSlot("g", pad_token=0, layer=-2, norm_hidden=False,
                                   checkpoint_prefixes=(("text_encoders.clip_g.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te2_",), ("text_encoder_2.",))),
                   TextEncoderSlot("t5xxl", pad_token=T5_PAD, layer=None, norm_hidden=True,
                                   checkpoint_prefixes=(("text_encoders.t5xxl.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te3_",), ("text_encoder_3.",)))),
    vae_prefix="first_stage_model.", clip_types=("sd3",),
)
