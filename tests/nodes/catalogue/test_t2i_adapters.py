"""T2I-Adapters through ControlNetLoader / ControlNetApplyAdvanced: features from a functional re-implementation of
the TencentARC adapter enter diffusers' UNet inside its down blocks; both file layouts; refusals."""

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from runtime.weights.files import ModelFileError
from nodes.stages.controlnet import ControlNetApplyAdvanced, ControlNetLoader
from nodes.stages.loaders import CheckpointLoaderSimple
from tests.tiny_models import write_tiny_sd1

CHANNELS = [32, 64]  # the tiny SD1 UNet's block widths


def original_adapter(colours=3, seed=0, unshuffle=8):
    """TencentARC-layout weights: conv_in, then per level two resnets (body.{2i+j}); in_conv where width grows."""
    g = torch.Generator().manual_seed(seed)

    def conv(name, cin, cout, k):
        return {f"{name}.weight": torch.randn(cout, cin, k, k, generator=g) * 0.1,
                f"{name}.bias": torch.randn(cout, generator=g) * 0.1}

    state = conv("conv_in", colours * unshuffle ** 2, CHANNELS[0], 3)
    for level, width in enumerate(CHANNELS):
        if level and CHANNELS[level - 1] != width:
            state.update(conv(f"body.{2 * level}.in_conv", CHANNELS[level - 1], width, 1))
        for j in range(2):
            state.update(conv(f"body.{2 * level + j}.block1", width, width, 3))
            state.update(conv(f"body.{2 * level + j}.block2", width, width, 1))
    return state


def diffusers_layout(state):
    out = {}
    for key, value in state.items():
        if key.startswith("conv_in."):
            out["adapter." + key] = value
        else:
            _, index, module, param = key.split(".")
            index = int(index)
            inner = "in_conv" if module == "in_conv" else f"resnets.{index % 2}.{module}"
            out[f"adapter.body.{index // 2}.{inner}.{param}"] = value
    return out


def reference_features(state, hint, xl=False):
    """The adapter's forward with plain tensor ops: unshuffle 8 (SDXL: 16), conv_in, per level (avg-pool, in_conv)
    + resnets; SD1 adapters halve the size at every level after the first, SDXL ones only at the third."""
    def conv(name, x):
        w = state[name + ".weight"]
        return F.conv2d(x, w, state[name + ".bias"], padding=w.shape[-1] // 2)

    x = conv("conv_in", F.pixel_unshuffle(hint, 16 if xl else 8))
    features = []
    for level in range(len(CHANNELS)):
        if (level == 2) if xl else level:
            x = F.avg_pool2d(x, 2)
        if f"body.{2 * level}.in_conv.weight" in state:
            x = conv(f"body.{2 * level}.in_conv", x)
        for j in range(2):
            x = x + conv(f"body.{2 * level + j}.block2", F.relu(conv(f"body.{2 * level + j}.block1", x)))
        features.append(x)
    return features


@pytest.fixture
def sd1(folders):
    tiny = write_tiny_sd1(folders.models_dir / "checkpoints", "sd1.safetensors")
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint("sd1.safetensors")
    return tiny, model, clip


def save(folders, state, name):
    folder = folders.models_dir / "controlnet"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / name))


@pytest.mark.parametrize("layout", ["original", "diffusers"])
def test_adapter_features_enter_the_unet_down_blocks(folders, sd1, layout):
    tiny, model, clip = sd1
    state = original_adapter()
    save(folders, state if layout == "original" else diffusers_layout(state), "t2i.safetensors")
    (adapter,) = ControlNetLoader().load_controlnet("t2i.safetensors")
    hint = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(2))
    positive, negative = clip.encode("a house"), clip.encode("")
    positive, negative = ControlNetApplyAdvanced().apply_controlnet(positive, negative, adapter, hint, 0.6, 0.0, 0.5)
    control = positive[0][1]["control"]
    assert control is negative[0][1]["control"]
    control.pre_run(model)

    g = torch.Generator().manual_seed(3)
    x_in = torch.randn(2, 4, 8, 8, generator=g)
    context = torch.cat([positive[0][0], negative[0][0]])
    timestep = torch.tensor([999.0, 999.0])
    high = torch.tensor([model.model_sampling.sigma_max])
    residuals = control.get_control(x_in, high, {"x_in": x_in, "context": context, "extras": {},
                                                 "timestep": timestep}, 2)
    ours = model.unet_forward(x_in, timestep, context, {}, control=residuals)
    features = [f.expand(2, -1, -1, -1) * 0.6 for f in reference_features(state, hint.movedim(-1, 1))]
    expected = tiny.components["unet"](x_in, timestep, encoder_hidden_states=context,
                                       down_intrablock_additional_residuals=features).sample
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)
    assert (ours - model.unet_forward(x_in, timestep, context, {})).abs().max() > 1e-3
    # outside its percent range (end 0.5) the adapter adds nothing
    low = torch.tensor([model.model_sampling.sigma_min])
    assert control.get_control(x_in, low, {"x_in": x_in}, 2) is None


def test_greyscale_adapters_average_the_hint_channels(folders, sd1):
    _, model, clip = sd1
    state = original_adapter(colours=1)
    save(folders, state, "sketch.safetensors")
    (adapter,) = ControlNetLoader().load_controlnet("sketch.safetensors")
    hint = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(4))
    (positive, _) = ControlNetApplyAdvanced().apply_controlnet(clip.encode("x"), clip.encode(""), adapter, hint,
                                                               1.0, 0.0, 1.0)
    control = positive[0][1]["control"]
    control.pre_run(model)
    x_in = torch.zeros(1, 4, 8, 8)
    out = control.get_control(x_in, torch.tensor([model.model_sampling.sigma_max]), {"x_in": x_in}, 1)["intrablock"]
    expected = reference_features(state, hint.movedim(-1, 1).mean(1, keepdim=True))
    for ours, ref in zip(out, expected):
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)


def test_sampling_with_an_adapter_changes_the_picture(folders, sd1):
    from nodes.stages.sampling import KSampler

    _, model, clip = sd1
    save(folders, original_adapter(), "t2i.safetensors")
    (adapter,) = ControlNetLoader().load_controlnet("t2i.safetensors")
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    hint = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(5))
    positive, negative = clip.encode("a house"), clip.encode("")
    (plain,) = KSampler().sample(model, 1, 2, 5.0, "euler", "normal", positive, negative, latent, 1.0)
    steered = ControlNetApplyAdvanced().apply_controlnet(positive, negative, adapter, hint, 1.0, 0.0, 1.0)
    (out,) = KSampler().sample(model, 1, 2, 5.0, "euler", "normal", *steered, latent, 1.0)
    assert torch.isfinite(out["samples"]).all()
    assert (out["samples"] - plain["samples"]).abs().max() > 1e-3


def test_light_adapters_and_unknown_files_are_refused_by_name(folders):
    save(folders, {"body.0.in_conv.weight": torch.zeros(4, 192, 1, 1)}, "light.safetensors")
    with pytest.raises(ModelFileError, match=r"ControlNetLoader: input 'control_net_name' \(light.safetensors\).*"
                                             r"light or Co-Adapter"):
        ControlNetLoader().load_controlnet("light.safetensors")
    save(folders, {"nothing.weight": torch.zeros(4)}, "other.safetensors")
    with pytest.raises(ModelFileError, match=r"ControlNetLoader: input 'control_net_name' \(other.safetensors\): "
                                             r"neither a ControlNet nor a T2I-Adapter; expected a ControlNet .* or "
                                             r"a T2I-Adapter") as refused:
        ControlNetLoader().load_controlnet("other.safetensors")
    assert "not supported" not in str(refused.value)


def test_sdxl_adapter_in_diffusers_layout(folders):
    from tests.tiny_models import write_tiny_sdxl

    tiny = write_tiny_sdxl(folders.models_dir / "checkpoints", "xl.safetensors")
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint("xl.safetensors")
    state = original_adapter(unshuffle=16)
    save(folders, diffusers_layout(state), "t2i_xl.safetensors")
    (adapter,) = ControlNetLoader().load_controlnet("t2i_xl.safetensors")
    assert adapter.family == "sdxl"
    hint = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(6))
    positive, _ = ControlNetApplyAdvanced().apply_controlnet(clip.encode("a"), clip.encode(""), adapter, hint,
                                                            1.0, 0.0, 1.0)
    cond, options = positive[0]
    control = options["control"]
    control.pre_run(model)
    x_in = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(7))
    timestep = torch.tensor([500.0])
    extras = model.extra_conds(options, x_in.shape)
    sigma = torch.tensor([model.model_sampling.sigma_max])
    ours = model.unet_forward(x_in, timestep, cond, extras, control=control.get_control(x_in, sigma, {"x_in": x_in}, 1))
    features = reference_features(state, F.interpolate(hint.movedim(-1, 1), size=(64, 64), mode="bilinear"), xl=True)
    expected = tiny.components["unet"](x_in, timestep, encoder_hidden_states=cond, added_cond_kwargs=extras,
                                       down_intrablock_additional_residuals=features).sample
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)


CHAINS = {"controlnet_after_adapter": ["t2i", "cn"], "adapter_after_controlnet": ["cn", "t2i"],
          "adapter_controlnet_adapter": ["t2i", "cn", "t2i_b"]}


@pytest.mark.parametrize("order", list(CHAINS))
def test_chains_of_controlnets_and_adapters_add_their_residuals(folders, sd1, order):
    from tests.tiny_models import write_tiny_controlnet

    tiny, model, clip = sd1
    save(folders, original_adapter(), "t2i.safetensors")
    save(folders, original_adapter(seed=7), "t2i_b.safetensors")
    write_tiny_controlnet(tiny, folders.models_dir / "controlnet", "original", "cn.safetensors")
    hint = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(8))
    plain = positive, negative = clip.encode("a house"), clip.encode("")
    alone = []
    for index, name in enumerate(CHAINS[order]):
        (control,) = ControlNetLoader().load_controlnet(f"{name}.safetensors")
        strength = 0.5 + 0.25 * index
        alone.append(ControlNetApplyAdvanced().apply_controlnet(*plain, control, hint, strength,
                                                                0.0, 1.0)[0][0][1]["control"])
        positive, negative = ControlNetApplyAdvanced().apply_controlnet(positive, negative, control, hint, strength,
                                                                        0.0, 1.0)
    chained = positive[0][1]["control"]
    assert [type(c).__name__ for c in reversed(chained.chain())] == [type(c).__name__ for c in alone]
    chained.pre_run(model)
    for control in alone:
        control.pre_run(model)

    g = torch.Generator().manual_seed(9)
    x_in = torch.randn(2, 4, 8, 8, generator=g)
    cond = {"x_in": x_in, "context": torch.cat([positive[0][0], negative[0][0]]), "extras": {},
            "timestep": torch.tensor([500.0, 500.0])}
    sigma = torch.tensor([model.model_sampling.sigma_max])
    residuals = chained.get_control(x_in, sigma, cond, 2)
    separate = [control.get_control(x_in, sigma, cond, 2) for control in alone]
    # every kind of residual is the sum over the controls that produce it, whatever the order of the chain
    for kind in ("down", "mid", "intrablock"):
        parts = [r[kind] for r in separate if kind in r]
        assert kind in residuals
        if kind == "mid":
            torch.testing.assert_close(residuals[kind], sum(parts), atol=1e-5, rtol=1e-5)
        else:
            for ours, *ref in zip(residuals[kind], *parts):
                torch.testing.assert_close(ours, sum(ref), atol=1e-5, rtol=1e-5)
    assert torch.isfinite(model.unet_forward(x_in, cond["timestep"], cond["context"], {}, control=residuals)).all()
