"""Fixtures of the LoRA tests: tiny LoRA files in every format next to the tiny checkpoints, and loaded models."""

import pytest
import torch

FILES = [("sd2", "kohya"), ("sd2", "peft"), ("sd1", "kohya"), ("sd1", "kohya_ldm"), ("sd1", "peft"), ("sd1", "locon"),
         ("sd1", "loha"), ("sd1", "lokr"),
         ("sdxl", "kohya_ldm"), ("sdxl", "kohya"), ("sdxl", "peft"), ("sdxl", "loha")]


@pytest.fixture(scope="session")
def tiny_families(tiny_checkpoints, tmp_path_factory):
    """family → TinyCheckpoint: the shared sd1 / sdxl ones plus an SD2 one (in a folder of its own)."""
    from tiny_models import write_tiny

    families = {k: v for k, v in tiny_checkpoints.items() if k != "base_dir"}
    families["sd2"] = write_tiny("sd2", tmp_path_factory.mktemp("tiny_sd2"))
    return families


@pytest.fixture(scope="session")
def tiny_loras(tiny_checkpoints, tiny_families):
    """{(family, format): file name in models/loras}, plus ("sd1", "second"): another kohya LoRA for stacking."""
    from tiny_models import write_tiny_lora

    folder = tiny_checkpoints["base_dir"] / "models" / "loras"
    files = {key: write_tiny_lora(tiny_families[key[0]], folder, key[1]).name for key in FILES}
    files[("sd1", "second")] = write_tiny_lora(tiny_checkpoints["sd1"], folder, "kohya", "second.safetensors",
                                               seed=7).name
    return files


@pytest.fixture(scope="session")
def loaded(tiny_families):
    """family → (MODEL, CLIP) loaded once from the tiny checkpoint (LoRAs patch clones, never these)."""
    from tiny_models import model_and_clip_loader

    return model_and_clip_loader(tiny_families)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)
