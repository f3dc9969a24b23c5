"""Textual-inversion embeddings from the `embeddings` folder, for `embedding:<name>` words in prompts."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from runtime.weights.files import ModelFileError, load_weights_object

log = logging.getLogger(__name__)
SUFFIXES = ("", ".safetensors", ".pt", ".bin")
SLOT_KEYS = {"l": "clip_l", "g": "clip_g", "h": "clip_h"}


def find_embedding(directories: list[Path], name: str) -> Path | None:
    """The first file named `name` (as given, or with .safetensors/.pt/.bin) inside one of `directories`."""
    for directory in directories:
        root = Path(directory).resolve()
        for suffix in SUFFIXES:
            candidate = (root / (name + suffix)).resolve()
            if candidate.is_file() and candidate.is_relative_to(root):
                return candidate
    return None


def embedding_vectors(data, slot: str, width: int) -> torch.Tensor | None:
    """The `[n, width]` vectors for one text encoder out of an A1111, safetensors or SDXL embedding file."""
    if isinstance(data, dict) and isinstance(data.get("string_to_param"), dict):
        candidates = list(data["string_to_param"].values())
    elif isinstance(data, dict) and SLOT_KEYS.get(slot) in data:
        candidates = [data[SLOT_KEYS[slot]]]
    elif isinstance(data, dict) and "emb_params" in data:
        candidates = [data["emb_params"]]
    elif isinstance(data, dict):
        candidates = [v for k, v in data.items() if isinstance(v, torch.Tensor) and not k.startswith("bundle_emb.")]
    else:
        candidates = [data] if isinstance(data, torch.Tensor) else []
    for tensor in candidates:
        if isinstance(tensor, torch.Tensor) and tensor.shape[-1] == width:
            return tensor.reshape(-1, width).float()
    return None


class EmbeddingStore:
    """Loads embeddings on demand, once per (name, encoder)."""

    def __init__(self, directories: list[Path]):
        self.directories = [Path(d) for d in directories]
        self._cache: dict[tuple[str, str, int], torch.Tensor | None] = {}

    def get(self, name: str, slot: str, width: int) -> torch.Tensor | None:
        key = (name, slot, width)
        if key not in self._cache:
            self._cache[key] = self._load(name, slot, width)
        return self._cache[key]

    def _load(self, name: str, slot: str, width: int) -> torch.Tensor | None:
        path = find_embedding(self.directories, name)
        if path is None:
            log.warning("embedding:%s does not exist in %s, ignoring", name, [str(d) for d in self.directories])
            return None
        try:
            vectors = embedding_vectors(load_weights_object(path), slot, width)
        except ModelFileError as error:
            log.warning("embedding:%s could not be read (%s), ignoring", name, error)
            return None
        if vectors is None:
            log.warning("embedding:%s (%s) has no %d-wide vectors for this text encoder, ignoring", name, path, width)
        return vectors
