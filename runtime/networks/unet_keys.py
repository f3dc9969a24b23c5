"""UNet parameter names: original (LDM/SGM `model.diffusion_model.*`) layout ↔ diffusers `UNet2DConditionModel`.

The map is generated from the diffusers config, so it covers every size of the SD1/SD2/SDXL family. The LoRA and
ControlNet loaders reuse `unet_key_map`: kohya `lora_unet_input_blocks_1_1_proj_in` names are original-layout names
with dots replaced by underscores.
"""

from __future__ import annotations

from collections.abc import Iterable

from runtime.weights.keys import count_indices, invert_key_map, map_by_longest_prefix

# resnet sub-module names, original → diffusers
RESNET_RENAMES = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
                  "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}


def unet_block_prefixes(config: dict) -> list[tuple[str, str, bool]]:
    """(original prefix, diffusers prefix, is_resnet) for every block of a UNet with this diffusers config."""
    levels = len(config["block_out_channels"])
    layers = config["layers_per_block"]
    if not isinstance(layers, int):
        raise ValueError("only a uniform layers_per_block is supported")
    down_attn = [kind.startswith("CrossAttn") for kind in config["down_block_types"]]
    up_attn = [kind.startswith("CrossAttn") for kind in config["up_block_types"]]
    # label_emb is SDXL's size/pooled-text embedding, or unCLIP's image-vector projection (class_embed_type)
    label = "class_embedding" if config.get("class_embed_type") == "projection" else "add_embedding"
    pairs = [("time_embed.0.", "time_embedding.linear_1.", False), ("time_embed.2.", "time_embedding.linear_2.", False),
             ("label_emb.0.0.", f"{label}.linear_1.", False), ("label_emb.0.2.", f"{label}.linear_2.", False),
             ("input_blocks.0.0.", "conv_in.", False), ("out.0.", "conv_norm_out.", False),
             ("out.2.", "conv_out.", False),
             ("middle_block.0.", "mid_block.resnets.0.", True), ("middle_block.1.", "mid_block.attentions.0.", False),
             ("middle_block.2.", "mid_block.resnets.1.", True)]
    for level in range(levels):
        for j in range(layers):
            index = 1 + level * (layers + 1) + j
            pairs.append((f"input_blocks.{index}.0.", f"down_blocks.{level}.resnets.{j}.", True))
            if down_attn[level]:
                pairs.append((f"input_blocks.{index}.1.", f"down_blocks.{level}.attentions.{j}.", False))
        if level < levels - 1:
            index = 1 + level * (layers + 1) + layers
            pairs.append((f"input_blocks.{index}.0.op.", f"down_blocks.{level}.downsamplers.0.conv.", False))
    for level in range(levels):
        for j in range(layers + 1):
            index = level * (layers + 1) + j
            pairs.append((f"output_blocks.{index}.0.", f"up_blocks.{level}.resnets.{j}.", True))
            if up_attn[level]:
                pairs.append((f"output_blocks.{index}.1.", f"up_blocks.{level}.attentions.{j}.", False))
        if level < levels - 1:
            index = level * (layers + 1) + layers
            slot = 2 if up_attn[level] else 1
            pairs.append((f"output_blocks.{index}.{slot}.conv.", f"up_blocks.{level}.upsamplers.0.conv.", False))
    return pairs


def _rename_resnet_rest(rest: str) -> str:
    """A diffusers resnet parameter suffix (`norm1.weight`) → its original suffix (`in_layers.0.weight`)."""
    for original, diffusers in RESNET_RENAMES.items():
        if rest.startswith(diffusers + "."):
            return original + rest[len(diffusers):]
    raise KeyError(rest)


def unet_key_map(config: dict, diffusers_keys: Iterable[str]) -> dict[str, str]:
    """Original-layout key (without `model.diffusion_model.`) → diffusers key, for the given diffusers keys."""
    return map_by_longest_prefix(unet_block_prefixes(config), diffusers_keys,
                                 lambda rest, is_resnet: _rename_resnet_rest(rest) if is_resnet else rest, "UNet")


def diffusers_unet_to_original(state_dict: dict) -> dict:
    """Diffusers UNet keys → original-layout keys (the block structure is read from the key names)."""
    keys = list(state_dict)
    levels = count_indices(keys, r"down_blocks\.(\d+)\.")

    def kind(side: str, index: int) -> str:
        attention = any(k.startswith(f"{side}_blocks.{index}.attentions.") for k in keys)
        return ("CrossAttn" if attention else "") + ("DownBlock2D" if side == "down" else "UpBlock2D")

    structure = {"block_out_channels": [0] * levels,
                 "layers_per_block": count_indices(keys, r"down_blocks\.0\.resnets\.(\d+)\."),
                 "down_block_types": [kind("down", i) for i in range(levels)],
                 "up_block_types": [kind("up", i) for i in range(levels)]}
    return invert_key_map(unet_key_map(structure, keys), state_dict)
