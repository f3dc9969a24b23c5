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
