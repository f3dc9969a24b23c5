"""train_controlnet: the loss falls in a few steps and the file loads through ControlNetLoader's path unchanged."""

import pytest
import torch

from tools.toymodel import finetune, models
from tools.toymodel.checkpoint import save_checkpoint
from tools.toymodel.train_controlnet import save_controlnet, train_controlnet


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cn")
    base_path = save_checkpoint(root / "base.safetensors", models.build_unet(1), models.build_vae(0),
                                models.build_text_encoder(2), dtype=torch.float32)
    base = finetune.load_base(base_path)
    controlnet, losses = train_controlnet(base, steps=24, batch=4, lr=2e-3, warmup=2, log=lambda _: None)
    return base, controlnet, losses, save_controlnet(root / "toy_cn.safetensors", controlnet, dtype=torch.float32)


@pytest.mark.slow
def test_controlnet_loss_falls_and_base_stays_frozen(trained):
    base, controlnet, losses, _ = trained
    assert len(losses) == 24
    assert sum(losses[-6:]) / 6 < 0.9 * sum(losses[:6]) / 6
    assert not any(p.requires_grad for p in base.unet.parameters())
    assert controlnet.controlnet_down_blocks[0].weight.abs().sum() > 0  # zero convs left zero


@pytest.mark.slow
def test_file_has_the_original_layout_and_loads_through_controlnet_loader(trained, monkeypatch):
    from safetensors import safe_open

    from nodes import paths
    from nodes.stages import controlnet as stage

    _, controlnet, _, path = trained
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
    assert all(k.startswith("control_model.") for k in keys)
    for key in ("control_model.zero_convs.0.0.weight", "control_model.middle_block_out.0.weight",
                "control_model.input_hint_block.0.weight", "control_model.input_blocks.1.1.proj_in.weight"):
        assert key in keys, key
    class Folders:  # the models/controlnet folder, holding only our file
        def get_full_path_or_raise(self, kind, name):
            assert (kind, name) == ("controlnet", path.name)
            return path

    monkeypatch.setattr(paths, "default", Folders)
    (loaded,) = stage.ControlNetLoader().load_controlnet(path.name)
    assert loaded.family == "sd1"
    network = loaded.weights.network
    assert list(network.config.conditioning_embedding_out_channels) == [16, 32, 64]
    ours = controlnet.state_dict()
    assert network.state_dict().keys() == ours.keys()
    assert all(torch.equal(network.state_dict()[k].float(), ours[k]) for k in ours)
