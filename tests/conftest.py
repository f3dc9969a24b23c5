"""Test-wide settings: never reach a model hub, one torch thread per process, deterministic."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


# --- tiny Stable Diffusion checkpoints (tests/tiny_models.py) -------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """A base directory whose models/checkpoints holds tiny_sd1, tiny_sdxl and tiny_sdxl_refiner .safetensors.

    Returns {family: TinyCheckpoint} plus "base_dir"; each TinyCheckpoint carries the equivalent diffusers
    components for reference tests.
    """
    from tiny_models import write_tiny

    base = tmp_path_factory.mktemp("tiny_base")
    folder = base / "models" / "checkpoints"
    found = {family: write_tiny(family, folder) for family in ("sd1", "sdxl", "sdxl_refiner")}
    found["base_dir"] = base
    return found


@pytest.fixture
def tiny_models_paths(tiny_checkpoints):
    """runtime.paths configured to the tiny checkpoints' base directory for one test (restored afterwards)."""
    import runtime

    with runtime.configured(paths=runtime.Paths.create(tiny_checkpoints["base_dir"])) as settings:
        yield settings.paths
