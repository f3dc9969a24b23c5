from runtime.paths import ModelFileNotFound, Paths

import pytest


def test_filename_list_is_recursive_sorted_and_filtered(tmp_path):
    paths = Paths.create(tmp_path)
    ckpt = tmp_path / "models" / "checkpoints"
    (ckpt / "sub").mkdir(parents=True)
    (ckpt / "b.safetensors").write_bytes(b"x")
    (ckpt / "sub" / "a.ckpt").write_bytes(b"x")
    (ckpt / "notes.txt").write_text("ignored")
    assert paths.get_filename_list("checkpoints") == ["b.safetensors", "sub/a.ckpt"]
    assert paths.get_full_path("checkpoints", "sub/a.ckpt") == ckpt / "sub" / "a.ckpt"


def test_missing_or_escaping_names_are_not_found(tmp_path):
    paths = Paths.create(tmp_path)
    assert paths.get_full_path("loras", "../../etc/passwd") is None
    with pytest.raises(ModelFileNotFound, match="loras"):
        paths.get_full_path_or_raise("loras", "nope.safetensors")


def test_extra_model_paths_yaml(tmp_path):
    other = tmp_path / "a1111"
    (other / "models" / "Lora").mkdir(parents=True)
    (other / "models" / "Lora" / "x.safetensors").write_bytes(b"x")
    config = tmp_path / "extra.yaml"
    config.write_text(f"a111:\n  base_path: {other}\n  loras: |\n    models/Lora\n    models/LyCORIS\n")
    paths = Paths.create(tmp_path / "base", extra_model_paths=[str(config)])
    assert paths.get_filename_list("loras") == ["x.safetensors"]
    assert paths.get_filename_list("clip") == []  # legacy key maps to text_encoders
