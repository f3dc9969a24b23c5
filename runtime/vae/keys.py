"""VAE parameter names: original (`first_stage_model.*`) layout ↔ diffusers `AutoencoderKL`, from the config."""

from __future__ import annotations

from collections.abc import Iterable

from runtime.weights.keys import count_indices, invert_key_map, map_by_longest_prefix

RESNET_RENAMES = {"nin_shortcut": "conv_shortcut"}
ATTENTION_RENAMES = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def vae_block_prefixes(config: dict) -> list[tuple[str, str, dict]]:
    """(original prefix, diffusers prefix, sub-module renames original → diffusers) for every VAE block."""
    levels = len(config["block_out_channels"])
    layers = config["layers_per_block"]
    pairs: list[tuple[str, str, dict]] = []
    for side in ("encoder", "decoder"):
        pairs += [(f"{side}.mid.block_1.", f"{side}.mid_block.resnets.0.", RESNET_RENAMES),
                  (f"{side}.mid.block_2.", f"{side}.mid_block.resnets.1.", RESNET_RENAMES),
                  (f"{side}.mid.attn_1.", f"{side}.mid_block.attentions.0.", ATTENTION_RENAMES),
                  (f"{side}.norm_out.", f"{side}.conv_norm_out.", {}),
                  (f"{side}.conv_in.", f"{side}.conv_in.", {}), (f"{side}.conv_out.", f"{side}.conv_out.", {})]
    for level in range(levels):
        for j in range(layers):
            pairs.append((f"encoder.down.{level}.block.{j}.", f"encoder.down_blocks.{level}.resnets.{j}.",
                          RESNET_RENAMES))
        if level < levels - 1:
            pairs.append((f"encoder.down.{level}.downsample.conv.", f"encoder.down_blocks.{level}.downsamplers.0.conv.",
                           {}))
        # the decoder counts its levels from the lowest resolution in diffusers, from the highest in the original
        original_level = levels - 1 - level
        for j in range(layers + 1):
            pairs.append((f"decoder.up.{original_level}.block.{j}.", f"decoder.up_blocks.{level}.resnets.{j}.",
                          RESNET_RENAMES))
        if level < levels - 1:
            pairs.append((f"decoder.up.{original_level}.upsample.conv.",
                          f"decoder.up_blocks.{level}.upsamplers.0.conv.", {}))
    pairs += [("quant_conv.", "quant_conv.", {}), ("post_quant_conv.", "post_quant_conv.", {})]
    return pairs


def vae_key_map(config: dict, diffusers_keys: Iterable[str]) -> dict[str, str]:
    """Original-layout key (without `first_stage_model.`) → diffusers key, for the given diffusers keys."""
    return map_by_longest_prefix(vae_block_prefixes(config), diffusers_keys, _rename_rest, "VAE")


def _rename_rest(rest: str, renames: dict) -> str:
    """A diffusers sub-module suffix back to its original name by the block's renames (unchanged if none fits)."""
    for old, new in renames.items():
        if rest.startswith(new + "."):
            return old + rest[len(new):]
    return rest


def is_attention_projection(diffusers_key: str) -> bool:
    """Original VAE attention projections are 1×1 convolutions ([C, C, 1, 1]); diffusers uses linears ([C, C])."""
    return ".attentions." in diffusers_key and diffusers_key.endswith(".weight") and any(
        f".{name}." in diffusers_key for name in ("to_q", "to_k", "to_v", "to_out"))


# attention names of diffusers releases before 0.15, → today's
LEGACY_ATTENTION = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}


def is_diffusers_vae(state_dict) -> bool:
    return "encoder.down_blocks.0.resnets.0.conv1.weight" in state_dict


def diffusers_vae_to_original(state_dict: dict) -> dict:
    """Diffusers VAE keys (current or pre-0.15 attention names) → original-layout keys."""
    renamed = {}
    for key, value in state_dict.items():
        for old, new in LEGACY_ATTENTION.items():
            if ".attentions." in key and old in key:
                key = key.replace(old, new)
        renamed[key] = value
    state_dict = renamed
    keys = list(state_dict)
    structure = {"block_out_channels": [0] * count_indices(keys, r"encoder\.down_blocks\.(\d+)\."),
                 "layers_per_block": count_indices(keys, r"encoder\.down_blocks\.0\.resnets\.(\d+)\.")}
    return invert_key_map(vae_key_map(structure, keys), state_dict)
