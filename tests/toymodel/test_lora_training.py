"""train_lora: loss falls in a few steps; LoraLoader matches every kohya key and reproduces the trained change."""

import logging

import pytest
import torch

from tools.toymodel import finetune, models
from tools.toymodel.train_lora import save_lora, train_lora

CAPTION = "a red star on a blue background in the top left"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, untrained_base):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lora")
    base_path = untrained_base
    base = finetune.load_base(base_path)
    lora, losses = train_lora(base, "star", steps=24, batch=4, lr=1e-2, warmup=2, text_encoder=True,
                              log=lambda _: None)
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    timestep = torch.tensor([500.0, 500.0])
    with torch.no_grad():  # the output with the LoRA hooked on, to compare with LoraLoader's patched model
        context = models.encode_text(base.text_encoder, base.tokenizer([CAPTION]))
        expected = base.unet(latents, timestep, context.expand(2, -1, -1)).sample
    path = save_lora(root / "toy_star.safetensors", lora, dtype=torch.float32)
    lora.remove()
    return base_path, path, lora, losses, (latents, timestep, expected)


@pytest.mark.slow
def test_lora_loss_falls(trained):
    _, _, lora, losses, _ = trained
    assert len(losses) == 24
    assert sum(losses[-8:]) / 8 < 0.92 * sum(losses[:8]) / 8
    assert any(layer.up.abs().sum() > 0 for layer in lora.layers.values())


@pytest.mark.slow
def test_file_uses_kohya_names(trained):
    from safetensors import safe_open

    _, path, _, _, _ = trained
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
    module = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
    text = "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
    for name in (module, text, "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0"):
        for suffix in (".lora_down.weight", ".lora_up.weight", ".alpha"):
            assert name + suffix in keys, name + suffix
    assert all(k.startswith(("lora_unet_", "lora_te_")) for k in keys)


@pytest.mark.slow
def test_lora_loader_matches_every_key_and_reproduces_the_trained_output(trained, caplog):
    from runtime.loaders import load_checkpoint
    import runtime
    from nodes.stages import lora as stage

    base_path, path, _, _, (latents, timestep, expected) = trained

    class Folders:  # the models/loras folder, holding only our file
        def get_full_path_or_raise(self, kind, name):
            assert (kind, name) == ("loras", path.name)
            return path

    with runtime.configured(paths=Folders()):
        model, clip, _ = load_checkpoint(base_path, output_vae=False)
        with caplog.at_level(logging.WARNING):
            patched_model, patched_clip = stage.LoraLoader().load_lora(model, clip, path.name, 1.0, 1.0)
        assert "not loaded" not in caplog.text
        with torch.no_grad():
            context = patched_clip.encode(CAPTION)[0][0].float()
            got = patched_model.unet_forward(latents, timestep, context.expand(2, -1, -1), {})
            plain = model.unet_forward(latents, timestep, clip.encode(CAPTION)[0][0].float().expand(2, -1, -1), {})
        torch.testing.assert_close(got.float(), expected, atol=1e-3, rtol=1e-3)
        assert (plain.float() - expected).abs().max() > 1e-2  # the LoRA changed the output
