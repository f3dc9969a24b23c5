"""Fixtures of the ControlNet tests: tiny ControlNets in every layout next to the tiny checkpoints."""

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_controlnets(tiny_checkpoints):
    """{(family, layout): (file name in models/controlnet, reference diffusers ControlNetModel)}; ("sd1", "second")
    is another original-layout SD1 ControlNet for stacking."""
    from tiny_models import write_tiny_controlnet

    folder = tiny_checkpoints["base_dir"] / "models" / "controlnet"
    found = {}
    for family in ("sd1", "sdxl"):
        for layout in ("original", "diffusers", "diff"):
            path, network = write_tiny_controlnet(tiny_checkpoints[family], folder, layout)
            found[(family, layout)] = (path.name, network)
    path, network = write_tiny_controlnet(tiny_checkpoints["sd1"], folder, "original", "second.safetensors", seed=5)
    found[("sd1", "second")] = (path.name, network)
    return found


@pytest.fixture(scope="session")
def loaded_models(tiny_checkpoints):
    """family → (MODEL, CLIP) loaded once from the tiny checkpoint."""
    from tiny_models import model_and_clip_loader

    return model_and_clip_loader(tiny_checkpoints)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)
