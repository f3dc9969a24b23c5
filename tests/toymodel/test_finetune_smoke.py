"""The trainers' shared pieces and command lines, on a fresh untrained base (no build/ needed)."""

import pytest

from tools.toymodel import finetune


def test_concept_domains_draw_the_held_back_concept():
    from tools.toymodel import domain

    stars = [domain.sample(0, i, finetune.concept_domain("star")).spec.shape for i in range(60)]
    assert 0.3 < stars.count("star") / 60 < 0.8 and set(stars) - {"star"}
    striped = [domain.sample(0, i, finetune.concept_domain("striped")).spec.striped for i in range(60)]
    assert 0.3 < sum(striped) / 60 < 0.7
    huge = [domain.sample(0, i, finetune.concept_domain("huge")).spec for i in range(60)]
    assert 0.3 < sum(s.huge for s in huge) / 60 < 0.7
    assert all(s.extent >= 0.75 and s.position is None and s.caption.startswith("a huge ") for s in huge if s.huge)
    with pytest.raises(ValueError, match="concept must be one of"):
        finetune.concept_domain("spotted")


def test_load_base_names_the_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        finetune.load_base(tmp_path / "missing.safetensors")


def test_command_lines_write_files_the_loaders_read(untrained_base, tmp_path, capsys):
    from runtime.control.controlnet import load_controlnet_weights
    from runtime.lora.patches import load_lora
    from tools.toymodel import train_controlnet, train_lora

    tiny = ["--base", str(untrained_base), "--steps", "2", "--batch", "2", "--warmup-steps", "1", "--log-every", "1"]
    assert train_controlnet.main([*tiny, "--out", str(tmp_path / "cn.safetensors")]) == 0
    lora_out = ["--concept", "striped", "--rank", "2", "--out", str(tmp_path / "l.safetensors")]
    assert train_lora.main([*tiny, *lora_out]) == 0
    printed = capsys.readouterr().out
    assert "[controlnet] step 2 loss" in printed and "[lora striped] step 2 loss" in printed
    assert load_controlnet_weights(tmp_path / "cn.safetensors").family == "sd1"
    lora = load_lora(tmp_path / "l.safetensors")
    assert lora.module_count == 56 and not lora.unknown  # q, k, v, out of the UNet's 14 attention layers
