"""Toy-model tests train for a few steps: one torch thread each, the fastest on a shared CPU."""

import pytest


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
