"""Stable Diffusion 2.x (and SD2.1 unCLIP): a UNet with linear attention projections and 64-wide heads, OpenCLIP-H
text from its penultimate layer, the SD VAE latent; 768-v models predict v (spec §9.3)."""

from runtime.family import Family, TextEncoderSlot
from runtime.latent_format import SD1_RGB_FACTORS, LatentFormat
from runtime.networks import unet

V_PRED_STD = 0.09  # a 768-v model's last norm bias spreads wider than this; an eps model's does not


def is_unclip(found: unet.UNetShapes) -> bool:
    """SD2.1 unCLIP (L or H): the class embedding takes an image embedding and its noise-level embedding."""
    return (found.context_dim == 1024 and found.adm in (1536, 2048)) or found.adm == 2 * found.context_dim


def match(shapes: dict, prefix: str) -> dict | None:
    found = unet.read_unet(shapes, prefix)
    if found is None or not found.use_linear:
        return None
    if found.adm is None:
        return found.config()
    return found.config(class_embedding="projection") if is_unclip(found) else None


def prediction_type(state_dict, prefix: str, config: dict) -> str:
    """eps or v: 768-v models are told apart by one bias's spread (a `v_pred` marker wins)."""
    if "v_pred" in state_dict or config["in_channels"] != 4:
        return unet.marked_prediction(state_dict)
    last = len(config["block_out_channels"]) * (config["layers_per_block"] + 1) - 1
    bias = state_dict.get(f"{prefix}output_blocks.{last}.1.transformer_blocks.0.norm1.bias")
    if bias is None or bias.device.type == "meta":
        return "eps"
    return "v" if bias.float().std(unbiased=False).item() > V_PRED_STD else "eps"


def extra_conds(model, options: dict, latent_shape) -> dict:
    """unCLIP's class input: noised image embeddings ⊕ noise-level embedding (zeros without an image)."""
    if model.unet.config.get("class_embed_type") != "projection":
        return {}
    import torch

    from runtime.conditioning.clip_vision import unclip_adm

    width = model.unet.config.projection_class_embeddings_input_dim
    if not options.get("unclip_conditioning"):
        return {"class_labels": torch.zeros(1, width)}
    return {"class_labels": unclip_adm(options["unclip_conditioning"], width // 2, options.get("seed"))}


FAMILY = Family(
    name="sd2", label="SD2.x", network=unet.SD_UNET, match=match,
    latent_format=LatentFormat(channels=4, scale_factor=0.18215, rgb_factors=SD1_RGB_FACTORS),
    prediction_type=prediction_type, model_sampling=unet.discrete_sampling, extra_conds=extra_conds,
    text_encoders=(TextEncoderSlot("h", pad_token=0, layer=-2, norm_hidden=True,
                                   checkpoint_prefixes=(("conditioner.embedders.0.model.", "openclip"),
                                                        ("cond_stage_model.transformer.", "hf"),
                                                        ("cond_stage_model.model.", "openclip")),
                                   lora_prefixes=(("lora_te_", "lora_te1_"), ("text_encoder.",))),),
    clip_types=("stable_diffusion",),
    priority=1,  # an unCLIP UNet also passes SDXL's broader test
)
