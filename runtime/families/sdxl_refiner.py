"""The SDXL refiner: SDXL's UNet design with CLIP-G text alone and five ids (size, crop, aesthetic score) beside the
pooled text; the SDXL latent (spec §9.3)."""

from runtime.family import Family, TextEncoderSlot
from runtime.families import sdxl
from runtime.networks import unet

AESTHETIC = {"positive": 6.0, "negative": 2.5}  # default aesthetic score per prompt side


def match(shapes: dict, prefix: str) -> dict | None:
    """Pooled CLIP-G (as wide as the text context) + size, crop and aesthetic ids feed the class embedding."""
    found = unet.read_unet(shapes, prefix)
    if found is None or found.adm != found.context_dim + 5 * unet.TIME_ID_WIDTH:
        return None
    return found.config(class_embedding="text_time")


def extra_conds(model, options: dict, latent_shape) -> dict:
    import torch

    side = "negative" if options.get("prompt_type") == "negative" else "positive"
    ids = sdxl.size_ids(options) + [options.get("aesthetic_score", AESTHETIC[side])]
    return {"text_embeds": sdxl.pooled_text(model, options, 5, revision=False),
            "time_ids": torch.tensor([ids], dtype=torch.float32)}


FAMILY = Family(
    name="sdxl_refiner", label="SDXL refiner", network=unet.SD_UNET, match=match, latent_format=sdxl.LATENT_FORMAT,
    prediction_type=lambda state_dict, prefix, config: unet.marked_prediction(state_dict),
    model_sampling=unet.discrete_sampling, extra_conds=extra_conds,
    text_encoders=(TextEncoderSlot("g", pad_token=0, layer=-2, norm_hidden=False,
                                   checkpoint_prefixes=(("conditioner.embedders.0.model.", "openclip"),),
                                   lora_prefixes=(("lora_te_", "lora_prior_te_", "lora_te2_"),
                                                  ("text_encoder.", "text_encoder_2."))),),
    clip_types=("stable_diffusion",), compatible=frozenset({"sdxl"}),
    priority=2,  # its rule is the narrowest: a refiner UNet passes SD2 unCLIP's and SDXL's tests too
)
