"""Tiny model files the workflow tests put under the names a workflow asks for."""

from pathlib import Path


def write_kohya_lora(unet, path: Path, rank: int = 2) -> None:
    """A kohya-style LoRA (diffusers module names) on every attention projection of a UNet."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(0)
    state = {}
    for module_name, module in unet.named_modules():
        if module_name.split(".")[-1] in ("to_q", "to_k", "to_v") and isinstance(module, torch.nn.Linear):
            key = "lora_unet_" + module_name.replace(".", "_")
            state[f"{key}.lora_down.weight"] = torch.randn(rank, module.in_features, generator=generator) * 0.1
            state[f"{key}.lora_up.weight"] = torch.randn(module.out_features, rank, generator=generator) * 0.1
            state[f"{key}.alpha"] = torch.tensor(float(rank))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))


def write_controlnet(tiny, path: Path) -> None:
    """A tiny ControlNet for `tiny` (a TinyCheckpoint) at `path`; skips the test where tests/tiny_models.py has no
    ControlNet builder yet."""
    import pytest

    from tests import tiny_models

    writer = getattr(tiny_models, "write_tiny_controlnet", None)
    if writer is None:
        pytest.skip("tests/tiny_models.py cannot build a tiny ControlNet yet")
    writer(tiny, path.parent, name=path.name)
