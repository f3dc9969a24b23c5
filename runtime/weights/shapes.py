"""Network sizes read from tensor shapes: the shape table of a state dict, block indices, attention heads.

Only shapes are read, so this works on memory-mapped files and meta-device state dicts alike.
"""

from __future__ import annotations

import re

HEAD_WIDTH = 64  # SD2/SDXL UNets, every CLIP tower and CLIP vision use 64-wide attention heads


def shapes_of(state_dict) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in state_dict.items()}


def indices(keys, pattern: str) -> list[int]:
    """The distinct integers the first group of `pattern` takes over `keys`, sorted."""
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for key in keys if (m := regex.match(key))})


def heads_for(width: int) -> int:
    return max(1, width // HEAD_WIDTH)
