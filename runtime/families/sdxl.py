"""SDXL base: a UNet whose class embedding takes pooled CLIP-G text plus six size/crop ids, CLIP-L and CLIP-G text
from their penultimate layers, the SDXL VAE latent (spec §9.3)."""

from runtime.family import Family, TextEncoderSlot
from runtime.latent_format import SDXL_RGB_BIAS, SDXL_RGB_FACTORS, LatentFormat
from runtime.networks import unet
from runtime.text.tokens import END

DEFAULT_SIZE = 768  # size conditioning used when the conditioning carries no width/height
LATENT_FORMAT = LatentFormat(channels=4, scale_factor=0.13025, rgb_factors=SDXL_RGB_FACTORS, rgb_bias=SDXL_RGB_BIAS)


def match(shapes: dict, prefix: str) -> dict | None:
    found = unet.read_unet(shapes, prefix)
    if found is None or found.adm is None or not found.use_linear or found.adm <= 6 * unet.TIME_ID_WIDTH:
        return None
    return found.config(class_embedding="text_time")


def pooled_text(model, options: dict, size_ids: int, revision: bool):
    """The pooled text vector of the class embedding (zeros without one); with `revision`, unCLIP image
    embeddings (unCLIPConditioning) stand in for it."""
    import torch

    width = model.unet.config.projection_class_embeddings_input_dim - size_ids * unet.TIME_ID_WIDTH
    if revision and options.get("unclip_conditioning"):
        from runtime.conditioning.clip_vision import unclip_pooled

        return unclip_pooled(options["unclip_conditioning"], width, options.get("seed"))
    pooled = options.get("pooled_output")
    if pooled is None:
        return torch.zeros(1, width)
    return pooled.reshape(1, -1).float()


def size_ids(options: dict) -> list:
    """Height, width, crop top and left of the conditioning (the sampler fills width/height with the image's)."""
    width = options.get("width", DEFAULT_SIZE)
    height = options.get("height", DEFAULT_SIZE)
    return [height, width, options.get("crop_h", 0), options.get("crop_w", 0)]


def extra_conds(model, options: dict, latent_shape) -> dict:
    import torch

    ids = size_ids(options)
    ids += [options.get("target_height", ids[0]), options.get("target_width", ids[1])]
    return {"text_embeds": pooled_text(model, options, 6, revision=True),
            "time_ids": torch.tensor([ids], dtype=torch.float32)}


FAMILY = Family(
    name="sdxl", label="SDXL", network=unet.SD_UNET, match=match, latent_format=LATENT_FORMAT,
    prediction_type=lambda state_dict, prefix, config: unet.marked_prediction(state_dict),
    model_sampling=unet.discrete_sampling, extra_conds=extra_conds,
    text_encoders=(TextEncoderSlot("l", pad_token=END, layer=-2, norm_hidden=False,
                                   checkpoint_prefixes=(("conditioner.embedders.0.transformer.", "hf"),),
                                   lora_prefixes=(("lora_te1_",), ("text_encoder.",))),
                   TextEncoderSlot("g", pad_token=0, layer=-2, norm_hidden=False,
                                   checkpoint_prefixes=(("conditioner.embedders.1.model.", "openclip"),),
                                   lora_prefixes=(("lora_te2_",), ("text_encoder_2.",)))),
    clip_types=("sdxl",), compatible=frozenset({"sdxl_refiner"}),
)
