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
