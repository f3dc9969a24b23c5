"""Fixtures shared by the node tests: private model/input/output/temp folders per test."""

import pytest

from runtime import paths as node_paths


@pytest.fixture
def folders(tmp_path):
    """Point runtime.paths.default() at a fresh base directory for one test."""
    previous = node_paths._default
    paths = node_paths.configure(node_paths.Paths.create(tmp_path))
    for folder in (paths.input_dir, paths.output_dir, paths.temp_dir):
        folder.mkdir(parents=True, exist_ok=True)
    yield paths
    node_paths._default = previous
