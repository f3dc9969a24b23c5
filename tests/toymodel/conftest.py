"""Toy-model tests train for a few steps: one torch thread each, the fastest on a shared CPU."""

import pytest


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def toy_runner(tmp_path_factory):
    """Runs the shipped workflow files on the shipped toy files (tests/toymodel/workflow_runner.py)."""
    from tests.toymodel.workflow_runner import WorkflowRunner

    runner = WorkflowRunner(tmp_path_factory.mktemp("toy-workflows"))
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def untrained_base(tmp_path_factory):
    """An untrained toy base in the SD1 single-file layout (the trainers only need its shapes and the loader)."""
    import torch

    from tools.toymodel import models
    from tools.toymodel.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("base") / "base.safetensors"
    return save_checkpoint(path, models.build_unet(1), models.build_vae(0), models.build_text_encoder(2),
                           dtype=torch.float32)
