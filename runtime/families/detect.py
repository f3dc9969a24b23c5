"""Checkpoint detection: which family a state dict is, and each network's diffusers config, from names and shapes.

Only shapes are read (plus one tensor's values for the SD2 v-prediction test), so it works on memory-mapped files
and on meta-device state dicts alike. Facts follow spec §9.3; numbers that shapes cannot tell (attention heads,
group-norm groups, the SDXL size-embedding width) use the values of the real models, and tiny test models follow
the same rules.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

UNET_PREFIXES = ("model.diffusion_model.", "model.model.", "net.")
TIME_ID_WIDTH = 256  # each SDXL size/crop/aesthetic number is embedded into 256 sinusoidal features
NORM_GROUPS = 32
HEAD_WIDTH = 64  # SD2/SDXL UNets and every CLIP text tower use 64-wide attention heads
SD1_HEADS = 8  # SD1 UNets use a fixed head count instead
LATENT_SCALE = {"sd1": 0.18215, "sd2": 0.18215, "sdxl": 0.13025, "sdxl_refiner": 0.13025}
V_PRED_STD = 0.09


class UnknownModelError(ValueError):
    """The state dict is not one of the model families diffloom can load."""


@dataclass
class TextEncoderSource:
    slot: str  # "l", "h" or "g"
    prefix: str  # where its keys start in the file
    layout: str  # "hf" (OpenAI/transformers names) or "openclip"


@dataclass
class CheckpointInfo:
    family: str
    prediction_type: str
    unet_prefix: str
    unet_config: dict
    vae_prefix: str | None = None
    text_encoders: list[TextEncoderSource] = field(default_factory=list)

    @property
    def latent_scale(self) -> float:
        return LATENT_SCALE[self.family]


def shapes_of(state_dict) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in state_dict.items()}


def heads_for(width: int) -> int:
    return max(1, width // HEAD_WIDTH)


def find_unet_prefix(keys) -> str:
    """Most frequent known diffusion-model prefix if it occurs more than 5 times, else `model.` (spec §9.3)."""
    counts = Counter(p for key in keys for p in UNET_PREFIXES if key.startswith(p))
    if counts:
        prefix, count = counts.most_common(1)[0]
        if count > 5:
            return prefix
    if any(key.startswith("input_blocks.") for key in keys):
        return ""
    return "model."


def _indices(shapes: dict, pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for key in shapes if (m := regex.match(key))})


def _transformer_depth(shapes: dict, prefix: str) -> int:
    return len(_indices(shapes, re.escape(prefix) + r"transformer_blocks\.(\d+)\."))


def unet_config_from_shapes(shapes: dict, prefix: str) -> tuple[dict, str]:
    """(diffusers `UNet2DConditionModel` config, family) for an original-layout UNet whose keys start with `prefix`."""
    p = prefix
    conv_in = shapes[p + "input_blocks.0.0.weight"]
    model_channels, in_channels = conv_in[0], conv_in[1]
    levels: list[list[tuple[int, int]]] = [[]]  # per resolution: (channels, transformer depth) per resnet
    for index in _indices(shapes, re.escape(p) + r"input_blocks\.(\d+)\.")[1:]:
        block = f"{p}input_blocks.{index}."
        if block + "0.op.weight" in shapes:
            levels.append([])
            continue
        channels = shapes[block + "0.out_layers.3.weight"][0]
        levels[-1].append((channels, _transformer_depth(shapes, block + "1.")))
    layer_counts = {len(level) for level in levels}
    if len(layer_counts) != 1:
        raise UnknownModelError(f"UNet with uneven resnets per resolution {sorted(layer_counts)}")
    first_attn = next((k for k in shapes if k.startswith(p) and k.endswith("attn2.to_k.weight")), None)
    if first_attn is None:
        raise UnknownModelError("UNet without cross-attention (no attn2.to_k.weight)")
    context_dim = shapes[first_attn][1]
    proj_in = next(k for k in shapes if k.startswith(p) and k.endswith("proj_in.weight"))
    use_linear = len(shapes[proj_in]) == 2
    adm = shapes.get(p + "label_emb.0.0.weight")
    mid_depth = _transformer_depth(shapes, p + "middle_block.1.")
    if mid_depth == 0:
        raise UnknownModelError("UNet without a middle transformer is not supported")
    channels = [level[0][0] for level in levels]
    depths = [level[0][1] for level in levels]
    # diffusers takes the middle block's depth from the last level; plain levels ignore their entry
    if depths[-1] not in (0, mid_depth):
        raise UnknownModelError(f"middle transformer depth {mid_depth} differs from the last level's {depths[-1]}")
    depths = [d if d else mid_depth for d in depths]
    family = _unet_family(use_linear, adm[1] if adm else None, context_dim)
    heads = [SD1_HEADS if family == "sd1" else heads_for(c) for c in channels]
    has_attn = [level[0][1] > 0 for level in levels]
    config = {
        "sample_size": 64, "in_channels": in_channels, "out_channels": shapes[p + "out.2.weight"][0],
        "block_out_channels": channels, "layers_per_block": layer_counts.pop(),
        "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in has_attn],
        "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(has_attn)],
        "mid_block_type": "UNetMidBlock2DCrossAttn", "transformer_layers_per_block": depths,
        "cross_attention_dim": context_dim, "attention_head_dim": heads, "use_linear_projection": use_linear,
        "norm_num_groups": NORM_GROUPS, "flip_sin_to_cos": True, "freq_shift": 0,
        "time_embedding_dim": shapes[p + "time_embed.0.weight"][0],
    }
    if adm and family == "sd2":  # unCLIP: the image vector is projected and added to the time embedding
        config.update(class_embed_type="projection", projection_class_embeddings_input_dim=adm[1])
    elif adm:
        config.update(addition_embed_type="text_time", addition_time_embed_dim=TIME_ID_WIDTH,
                      projection_class_embeddings_input_dim=adm[1])
    return config, family


def _unet_family(use_linear: bool, adm: int | None, context_dim: int) -> str:
    if adm is None:
        return "sd2" if use_linear else "sd1"
    if adm == context_dim + 5 * TIME_ID_WIDTH:  # refiner: pooled CLIP-G (= context) + size, crop, aesthetic
        return "sdxl_refiner"
    if use_linear and ((context_dim == 1024 and adm in (1536, 2048)) or adm == 2 * context_dim):
        return "sd2"  # SD2.1 unCLIP (L or H): an image embedding and its noise-level embedding
    if adm > 6 * TIME_ID_WIDTH and use_linear:  # base: pooled CLIP-G + size, crop, target size
        return "sdxl"
    raise UnknownModelError(f"UNet with a {adm}-wide class embedding (unCLIP or another unsupported variant)")


def prediction_type(state_dict, family: str, prefix: str, config: dict) -> str:
    """eps or v: SD2 768-v models are told apart by one bias's spread; SDXL v models carry a `v_pred` marker."""
    if "v_pred" in state_dict:
        return "v"
    if family != "sd2" or config["in_channels"] != 4:
        return "eps"
    last = len(config["block_out_channels"]) * (config["layers_per_block"] + 1) - 1
    bias = state_dict.get(f"{prefix}output_blocks.{last}.1.transformer_blocks.0.norm1.bias")
    if bias is None or bias.device.type == "meta":
        return "eps"
    return "v" if bias.float().std(unbiased=False).item() > V_PRED_STD else "eps"


def vae_norm_groups(first_channels: int) -> int:
    """GroupNorm groups of a VAE, which no tensor shape records: 32, as every published VAE has, wherever 32
    divides the width; narrower VAEs (the shipped toy model's 16 channels) keep 4 channels per group."""
    if first_channels % NORM_GROUPS == 0:
        return NORM_GROUPS
    return max(1, first_channels // 4)


def vae_config_from_shapes(shapes: dict, prefix: str) -> dict:
    """A diffusers `AutoencoderKL` config for original-layout VAE keys starting with `prefix`."""
    p = prefix
    levels = _indices(shapes, re.escape(p) + r"encoder\.down\.(\d+)\.")
    if not levels or p + "encoder.conv_in.weight" not in shapes:
        raise UnknownModelError("no VAE encoder (encoder.conv_in / encoder.down.N) found")
    channels = [shapes[f"{p}encoder.down.{i}.block.0.conv1.weight"][0] for i in levels]
    layers = len(_indices(shapes, re.escape(p) + r"encoder\.down\.0\.block\.(\d+)\."))
    return {
        "in_channels": shapes[p + "encoder.conv_in.weight"][1],
        "out_channels": shapes[p + "decoder.conv_out.weight"][0],
        "down_block_types": ["DownEncoderBlock2D"] * len(levels), "up_block_types": ["UpDecoderBlock2D"] * len(levels),
        "block_out_channels": channels, "layers_per_block": layers,
        "latent_channels": shapes[p + "decoder.conv_in.weight"][1], "norm_num_groups": vae_norm_groups(channels[0]),
        "sample_size": 512, "use_quant_conv": p + "quant_conv.weight" in shapes,
        "use_post_quant_conv": p + "post_quant_conv.weight" in shapes,
    }


def clip_config_from_shapes(shapes: dict, slot: str) -> dict:
    """A transformers `CLIPTextConfig` dict for canonical-key CLIP shapes (see convert_clip) of encoder `slot`."""
    vocab, width = shapes["embeddings.token_embedding.weight"]
    layers = len(_indices(shapes, r"encoder\.layers\.(\d+)\."))
    projection = shapes.get("text_projection.weight")
    return {
        "vocab_size": vocab, "hidden_size": width, "num_hidden_layers": layers,
        "intermediate_size": shapes["encoder.layers.0.mlp.fc1.weight"][0],
        "num_attention_heads": heads_for(width),
        "max_position_embeddings": shapes["embeddings.position_embedding.weight"][0],
        "projection_dim": projection[0] if projection else width,
        # OpenAI's CLIP-L uses the sigmoid approximation of GELU; the OpenCLIP H and G towers use the exact one
        "hidden_act": "quick_gelu" if slot == "l" else "gelu", "layer_norm_eps": 1e-5,
        "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407,
    }


def text_encoder_sources(keys, family: str) -> list[TextEncoderSource]:
    """Where the text encoders of a single-file checkpoint live (spec §9.3 item 5)."""
    keys = list(keys)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if family == "sdxl":
        return [TextEncoderSource("l", "conditioner.embedders.0.transformer.", "hf"),
                TextEncoderSource("g", "conditioner.embedders.1.model.", "openclip")]
    if family == "sdxl_refiner":
        return [TextEncoderSource("g", "conditioner.embedders.0.model.", "openclip")]
    if family == "sd2":
        if has("conditioner.embedders.0.model."):
            return [TextEncoderSource("h", "conditioner.embedders.0.model.", "openclip")]
        if has("cond_stage_model.transformer."):
            return [TextEncoderSource("h", "cond_stage_model.transformer.", "hf")]
        return [TextEncoderSource("h", "cond_stage_model.model.", "openclip")]
    return [TextEncoderSource("l", "cond_stage_model.transformer.", "hf")]


def detect_checkpoint(state_dict) -> CheckpointInfo:
    """Detect a single-file checkpoint (or a UNet-only file) from its keys and shapes; raises UnknownModelError."""
    shapes = shapes_of(state_dict)
    prefix = find_unet_prefix(shapes)
    if prefix + "input_blocks.0.0.weight" not in shapes:
        raise UnknownModelError(f"no UNet found (expected '{prefix}input_blocks.0.0.weight')")
    config, family = unet_config_from_shapes(shapes, prefix)
    vae_prefix = "first_stage_model." if any(k.startswith("first_stage_model.") for k in shapes) else None
    sources = [s for s in text_encoder_sources(shapes, family) if any(k.startswith(s.prefix) for k in shapes)]
    return CheckpointInfo(family=family, prediction_type=prediction_type(state_dict, family, prefix, config),
                          unet_prefix=prefix, unet_config=config, vae_prefix=vae_prefix, text_encoders=sources)
