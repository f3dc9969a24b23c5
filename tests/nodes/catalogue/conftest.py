"""Fixtures for the catalogue tests: one torch thread (the `folders` fixture is in tests/nodes/conftest.py)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
