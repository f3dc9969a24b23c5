"""Safe weight-file reading: safetensors memory-mapped, pickles only through `torch.load(weights_only=True)`."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

SAFETENSORS_SUFFIXES = {".safetensors", ".sft"}
PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin", ".pt2", ".pkl"}


class ModelFileError(ValueError):
    """A weight file that cannot be read, or does not hold what the caller expected."""


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a weight file by name. safetensors tensors are views of a private memory map: no RAM copy."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        return _load_safetensors(path)
    if suffix in PICKLE_SUFFIXES:
        return _load_pickle(path)
    raise ModelFileError(f"{path}: unknown weight file type {suffix!r}; expected .safetensors, .ckpt, .pt, .pth "
                         "or .bin")


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises its own error types for bad headers and short files
        raise ModelFileError(f"{path}: not a valid .safetensors file ({error}); the file is corrupt, truncated "
                             "or not a safetensors weight file") from error


def load_weights_object(path: str | Path):
    """The raw object of a weight file: nested dicts of tensors, strings and numbers (textual inversions use them)."""
    path = Path(path)
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        return _load_safetensors(path)
    return _unpickle(path)


def _unpickle(path: Path):
    try:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error) and "zip" not in str(error):
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except pickle.UnpicklingError as error:
        refusal = next((line.strip() for line in str(error).splitlines()
                        if "Unsupported global" in line or "Unsupported class" in line), None)
        if refusal is None:
            raise ModelFileError(f"{path}: not a readable PyTorch weight file ({str(error).splitlines()[0]}); the "
                                 "file is corrupt or truncated") from error
        raise ModelFileError(f"{path}: refused to load: the pickle holds Python objects other than tensors "
                             f"({refusal.split(' was not')[0]}); only plain weight files are loaded — convert it "
                             "to .safetensors") from error
    except Exception as error:
        raise ModelFileError(f"{path}: not a readable PyTorch weight file ({error}); the file is corrupt or "
                             "truncated") from error
    return data


def _load_pickle(path: Path) -> dict[str, torch.Tensor]:
    data = _unpickle(path)
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a dict of tensors, found {type(data).__name__}")
    return {key: value for key, value in data.items() if isinstance(value, torch.Tensor)}


def save_state_dict(state_dict: dict[str, torch.Tensor], path: str | Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
