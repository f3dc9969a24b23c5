"""Fixtures shared by the node tests: private model/input/output/temp folders per test."""

import pytest

import runtime


@pytest.fixture
def folders(tmp_path):
    """Point the runtime's folders at a fresh base directory for one test."""
    with runtime.configured(paths=runtime.Paths.create(tmp_path)) as settings:
        yield _make_folders(settings.paths)


def _make_folders(paths):
    for folder in (paths.input_dir, paths.output_dir, paths.temp_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return paths
