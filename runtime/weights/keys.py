"""Small helpers shared by the key-conversion modules."""

from __future__ import annotations

import re


def invert_key_map(mapping: dict[str, str], state_dict: dict) -> dict:
    """Rename a diffusers-named state dict to original names with an `{original: diffusers}` map."""
    back = {diffusers: original for original, diffusers in mapping.items()}
    return {back.get(k, k): v for k, v in state_dict.items()}


def count_indices(keys, pattern: str) -> int:
    """How many distinct values the first group of `pattern` takes over `keys`."""
    regex = re.compile(pattern)
    return len({m.group(1) for k in keys if (m := regex.match(k))})


def map_by_longest_prefix(prefixes, diffusers_keys, rename_rest, model: str) -> dict[str, str]:
    """{original key: diffusers key} from (original prefix, diffusers prefix, how) triples; the longest diffusers
    prefix that matches a key wins, `rename_rest(rest, how)` turns the rest of the key back to original names."""
    # longest first so `mid_block.resnets.1.` is not confused with shorter matches
    ordered = sorted(prefixes, key=lambda p: -len(p[1]))
    mapping: dict[str, str] = {}
    for key in diffusers_keys:
        for original, diffusers, how in ordered:
            if key.startswith(diffusers):
                mapping[original + rename_rest(key[len(diffusers):], how)] = key
                break
        else:
            raise KeyError(f"no original-layout name for diffusers {model} key {key!r}")
    return mapping


# Renaming tables of transformers whose original layout fuses projections (Flux, SD3): `global_table` maps
# original module names outside the blocks, `blocks` is ((original block prefix, diffusers block prefix, table), …);
# a table value is a diffusers module name, or a tuple of names whose rows the fused original tensor holds in order.

def fused_parts(names) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else names


def fused_targets(module: str, global_table: dict, blocks) -> tuple[str, ...] | None:
    """The diffusers module(s) of an original module, or None when it has no counterpart."""
    if module in global_table:
        return fused_parts(global_table[module])
    for original, diffusers, table in blocks:
        if (m := re.fullmatch(re.escape(original) + r"(\d+)\.(.+)", module)) and m[2] in table:
            return tuple(f"{diffusers}{m[1]}.{name}" for name in fused_parts(table[m[2]]))
    return None


def fused_source(module: str, global_table: dict, blocks) -> tuple[str, int, int] | None:
    """(original module, part index, number of parts) of a diffusers module, or None without a counterpart."""
    prefix, table, name = "", global_table, module
    for original, diffusers, block_table in blocks:
        if (m := re.fullmatch(re.escape(diffusers) + r"(\d+)\.(.+)", module)):
            prefix, table, name = f"{original}{m[1]}.", block_table, m[2]
    for source, names in table.items():
        if name in fused_parts(names):
            return prefix + source, fused_parts(names).index(name), len(fused_parts(names))
    return None


def swap_halves(tensor):
    """The tensor with its two halves (along rows) exchanged: modulations whose (shift, scale) order differs."""
    import torch

    first, second = tensor.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)
