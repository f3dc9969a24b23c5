"""train_controlnet: the loss falls in a few steps and the file loads through ControlNetLoader's path unchanged."""

import pytest
import torch

from tools.toymodel import finetune
from tools.toymodel.train_controlnet import save_controlnet, train_controlnet


@pytest.fixture(scope="module")
def trained(tmp_path_factory, untrained_base):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cn")
    base_path = untrained_base
    base = finetune.load_base(base_path)
    controlnet, losses = train_controlnet(base, steps=24, batch=4, lr=2e-3, warmup=2, log=lambda _: None)
    path = save_controlnet(root / "toy_cn.safetensors", controlnet, dtype=torch.float32)
    return base, controlnet, losses, path, base_path


@pytest.mark.slow
def test_controlnet_loss_falls_and_base_stays_frozen(trained):
    base, controlnet, losses, _, _ = trained
    assert len(losses) == 24
    assert sum(losses[-6:]) / 6 < 0.9 * sum(losses[:6]) / 6
    assert not any(p.requires_grad for p in base.unet.parameters())
    assert controlnet.controlnet_down_blocks[0].weight.abs().sum() > 0  # zero convs left zero


@pytest.mark.slow
def test_file_has_the_original_layout_and_loads_through_controlnet_loader(trained):
    from safetensors import safe_open

    import runtime
    from nodes.stages import controlnet as stage

    _, controlnet, _, path, _ = trained
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

    with runtime.configured(paths=Folders()):
        (loaded,) = stage.ControlNetLoader().load_controlnet(path.name)
        assert loaded.family == "sd1"
        network = loaded.weights.network
        assert list(network.config.conditioning_embedding_out_channels) == [16, 32, 64]
        ours = controlnet.state_dict()
        assert network.state_dict().keys() == ours.keys()
        assert all(torch.equal(network.state_dict()[k].float(), ours[k]) for k in ours)


@pytest.mark.slow
def test_control_net_apply_steers_ksampler_with_the_silhouette(trained):
    """Through ControlNetApply and ksampler_from_seed (32x32 hint for 8x8 latents): the hint changes the picture."""
    from runtime.loaders import load_checkpoint
    from runtime.control.controlnet import ControlNet, load_controlnet_weights
    from runtime.sampling.ksampler import ksampler_from_seed
    from nodes.stages.controlnet import ControlNetApply
    from tools.toymodel import domain

    _, _, _, path, base_path = trained
    model, clip, vae = load_checkpoint(base_path)  # as CheckpointLoaderSimple: the VAE sets the 4x latent scale
    assert vae.downscale_ratio == model.latent_format.downscale == 4
    control = ControlNet(load_controlnet_weights(path))
    sample = domain.sample(0, 0)
    hint = torch.from_numpy(sample.control.astype("float32") / 255)[None]  # IMAGE [1, H, W, 3]
    positive, negative = clip.encode(sample.caption), clip.encode("")

    def run(conditioning):
        latent = {"samples": torch.zeros(1, 4, 8, 8)}
        return ksampler_from_seed(model, 1, 3, 5.0, "euler", "normal", conditioning, negative, latent)["samples"]

    (controlled,) = ControlNetApply().apply_controlnet(positive, control, hint, 1.0)
    plain, steered = run(positive), run(controlled)
    assert steered.shape == plain.shape == (1, 4, 8, 8)
    assert (steered - plain).abs().max() > 1e-3
