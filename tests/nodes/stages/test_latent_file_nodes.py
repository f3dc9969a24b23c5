"""SaveLatent / LoadLatent: .latent safetensors round trip, metadata, legacy scaling, bad files."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from nodes.stages import latent_files as F


def test_save_then_load_round_trips_with_metadata(folders):
    samples = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))
    result = F.SaveLatent().save({"samples": samples}, "latents/test", prompt={"1": {}},
                                 extra_pnginfo={"workflow": {"nodes": []}})
    (entry,) = result["ui"]["latents"]
    assert entry == {"filename": "test_00001_.latent", "subfolder": "latents", "type": "output"}
    saved = folders.output_dir / "latents" / entry["filename"]
    with safe_open(str(saved), "pt") as handle:
        assert json.loads(handle.metadata()["workflow"]) == {"nodes": []}
        assert set(handle.keys()) == {"latent_tensor", "latent_format_version_0"}
    (folders.input_dir / "copy.latent").write_bytes(saved.read_bytes())
    assert F.LoadLatent.INPUT_TYPES()["required"]["latent"][0] == ["copy.latent"]
    (loaded,) = F.LoadLatent().load("copy.latent")
    assert torch.equal(loaded["samples"], samples)


def test_legacy_files_are_unscaled_and_bad_files_named(folders):
    save_file({"latent_tensor": torch.full((1, 4, 2, 2), 0.18215)}, str(folders.input_dir / "old.latent"))
    (loaded,) = F.LoadLatent().load("old.latent")
    assert torch.allclose(loaded["samples"], torch.ones(1, 4, 2, 2))
    (folders.input_dir / "junk.latent").write_text("nope")
    with pytest.raises(ValueError, match=r"LoadLatent: input 'latent': .*junk\.latent"):
        F.LoadLatent().load("junk.latent")
    assert F.LoadLatent.VALIDATE_INPUTS("gone.latent") == "Invalid latent file: gone.latent"
