"""Fixtures of the sampling tests (the stand-in model lives in sampling_fakes.py)."""

import pytest
import torch
from sampling_fakes import FakeModel


@pytest.fixture
def fake_model():
    return FakeModel()


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)
