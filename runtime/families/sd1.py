"""Stable Diffusion 1.x: a UNet with convolutional attention projections and 8 heads, OpenAI CLIP-L text, the
4-channel SD VAE latent, eps prediction on the 1000-step DDPM table (spec §9.3)."""

from runtime.family import Family, TextEncoderSlot
from runtime.latent_format import SD1_RGB_FACTORS, LatentFormat
from runtime.networks import unet
from runtime.text.tokens import END

HEADS = 8  # SD1 UNets use a fixed head count, not 64-wide heads


def match(shapes: dict, prefix: str) -> dict | None:
    found = unet.read_unet(shapes, prefix)
    if found is None or found.adm is not None or found.use_linear:
        return None
    return found.config(heads=HEADS)


FAMILY = Family(
    name="sd1", label="SD1.x", network=unet.SD_UNET, match=match,
    latent_format=LatentFormat(channels=4, scale_factor=0.18215, rgb_factors=SD1_RGB_FACTORS),
    prediction_type=lambda state_dict, prefix, config: unet.marked_prediction(state_dict),
    model_sampling=unet.discrete_sampling,
    text_encoders=(TextEncoderSlot("l", pad_token=END, layer=None, norm_hidden=True,
                                   checkpoint_prefixes=(("cond_stage_model.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te_", "lora_te1_"), ("text_encoder.",))),),
    clip_types=("stable_diffusion",),
)
