"""Fixtures for the catalogue tests: private model/input/output folders per test."""

import pytest
import torch

from nodes import paths as node_paths


@pytest.fixture
def folders(tmp_path):
    """Point nodes.paths.default() at a fresh base directory for one test."""
    previous = node_paths._default
    paths = node_paths.configure(node_paths.Paths.create(tmp_path))
    for folder in (paths.input_dir, paths.output_dir, paths.temp_dir):
        folder.mkdir(parents=True, exist_ok=True)
    yield paths
    node_paths._default = previous


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
