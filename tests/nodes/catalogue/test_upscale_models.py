"""UpscaleModelLoader / ImageUpscaleWithModel on tiny ESRGAN-family files, against a functional re-implementation
of each network; tiling, progress and refusals of other architectures."""

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from executor import progress
from runtime.weights.files import ModelFileError
from runtime.upscale.models import tiled_upscale
from nodes.stages.upscale import ImageUpscaleWithModel, UpscaleModelLoader


def rrdb_state(features=8, growth=4, blocks=2, upsamples=2, in_channels=3, seed=0, out_channels=3):
    """BasicSR-layout RRDBNet weights (conv_first, body.N.rdbK.convM, conv_body, conv_upN, conv_hr, conv_last)."""
    g = torch.Generator().manual_seed(seed)

    def conv(name, cin, cout):
        return {f"{name}.weight": torch.randn(cout, cin, 3, 3, generator=g) * 0.1,
                f"{name}.bias": torch.randn(cout, generator=g) * 0.01}

    state = conv("conv_first", in_channels, features)
    for b in range(blocks):
        for k in (1, 2, 3):
            for m in range(5):
                state.update(conv(f"body.{b}.rdb{k}.conv{m + 1}", features + m * growth,
                                  features if m == 4 else growth))
    state.update(conv("conv_body", features, features))
    for u in range(upsamples):
        state.update(conv(f"conv_up{u + 1}", features, features))
    state.update(conv("conv_hr", features, features))
    state.update(conv("conv_last", features, out_channels))
    return state


def reference_rrdb(state, x, unshuffle=1):
    """ESRGAN's forward written with F.conv2d on the state dict."""
    def conv(name, v):
        return F.conv2d(v, state[name + ".weight"], state[name + ".bias"], padding=1)

    lrelu = lambda v: F.leaky_relu(v, 0.2)  # noqa: E731
    if unshuffle > 1:
        x = F.pixel_unshuffle(x, unshuffle)
    feat = conv("conv_first", x)
    trunk = feat
    b = 0
    while f"body.{b}.rdb1.conv1.weight" in state:
        block_in = trunk
        for k in (1, 2, 3):
            outs = [trunk]
            for m in range(1, 5):
                outs.append(lrelu(conv(f"body.{b}.rdb{k}.conv{m}", torch.cat(outs, 1))))
            trunk = trunk + 0.2 * conv(f"body.{b}.rdb{k}.conv5", torch.cat(outs, 1))
        trunk = block_in + 0.2 * trunk
        b += 1
    feat = feat + conv("conv_body", trunk)
    u = 1
    while f"conv_up{u}.weight" in state:
        feat = lrelu(conv(f"conv_up{u}", F.interpolate(feat, scale_factor=2, mode="nearest")))
        u += 1
    return conv("conv_last", lrelu(conv("conv_hr", feat)))


def old_layout(state):
    """The original ESRGAN names for a BasicSR-layout ×4 state (model.0, model.1.sub.*, model.3/6/8/10)."""
    blocks = len({k.split(".")[1] for k in state if k.startswith("body.")})
    out = {}
    names = {"conv_first": "model.0", "conv_body": f"model.1.sub.{blocks}", "conv_up1": "model.3",
             "conv_up2": "model.6", "conv_hr": "model.8", "conv_last": "model.10"}
    for key, value in state.items():
        module, param = key.rsplit(".", 1)
        if module in names:
            out[f"{names[module]}.{param}"] = value
        else:
            _, b, rdb, conv = module.split(".")
            out[f"model.1.sub.{b}.RDB{rdb[-1]}.{conv}.0.{param}"] = value
    return out


def image(h=12, w=10, seed=1):
    return torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(seed))


def expected_output(state, pixels, unshuffle=1):
    return reference_rrdb(state, pixels.movedim(-1, 1), unshuffle).clamp(0, 1).movedim(1, -1)


@pytest.mark.parametrize("layout,suffix", [("basicsr", ".pth"), ("original", ".safetensors")])
def test_esrgan_matches_the_reference_forward(folders, layout, suffix):
    state = rrdb_state()
    folder = folders.models_dir / "upscale_models"
    folder.mkdir(parents=True)
    if layout == "basicsr":  # Real-ESRGAN releases wrap the weights in params_ema
        torch.save({"params_ema": state}, folder / f"x4{suffix}")
    else:
        save_file({k: v.contiguous() for k, v in old_layout(state).items()}, str(folder / f"x4{suffix}"))
    (model,) = UpscaleModelLoader().load_model(f"x4{suffix}")
    assert model.scale == 4 and model.architecture == "ESRGAN"
    pixels = image()
    (out,) = ImageUpscaleWithModel().upscale(model, pixels)
    assert out.shape == (1, 48, 40, 3)
    torch.testing.assert_close(out, expected_output(state, pixels), atol=1e-5, rtol=1e-4)


def test_real_esrgan_x2_unshuffles_its_input(folders):
    state = rrdb_state(in_channels=12)
    folder = folders.models_dir / "upscale_models"
    folder.mkdir(parents=True)
    save_file(state, str(folder / "x2plus.safetensors"))
    (model,) = UpscaleModelLoader().load_model("x2plus.safetensors")
    assert model.scale == 2
    pixels = image(8, 6)
    (out,) = ImageUpscaleWithModel().upscale(model, pixels)
    assert out.shape == (1, 16, 12, 3)
    torch.testing.assert_close(out, expected_output(state, pixels, unshuffle=2), atol=1e-5, rtol=1e-4)


def test_compact_model_adds_the_nearest_upscaled_input(folders):
    g = torch.Generator().manual_seed(2)
    state = {"body.0.weight": torch.randn(6, 3, 3, 3, generator=g) * 0.1, "body.0.bias": torch.zeros(6),
             "body.1.weight": torch.full((6,), 0.25),
             "body.2.weight": torch.randn(6, 6, 3, 3, generator=g) * 0.1, "body.2.bias": torch.zeros(6),
             "body.3.weight": torch.full((6,), 0.1),
             "body.4.weight": torch.randn(12, 6, 3, 3, generator=g) * 0.1, "body.4.bias": torch.zeros(12)}
    folder = folders.models_dir / "upscale_models"
    folder.mkdir(parents=True)
    save_file(state, str(folder / "compact.safetensors"))
    (model,) = UpscaleModelLoader().load_model("compact.safetensors")
    assert model.scale == 2 and model.architecture == "RealESRGAN-compact"
    pixels = image(6, 6)
    x = pixels.movedim(-1, 1)
    h = F.prelu(F.conv2d(x, state["body.0.weight"], state["body.0.bias"], padding=1), state["body.1.weight"])
    h = F.prelu(F.conv2d(h, state["body.2.weight"], state["body.2.bias"], padding=1), state["body.3.weight"])
    h = F.pixel_shuffle(F.conv2d(h, state["body.4.weight"], state["body.4.bias"], padding=1), 2)
    expected = (h + F.interpolate(x, scale_factor=2, mode="nearest")).clamp(0, 1).movedim(1, -1)
    (out,) = ImageUpscaleWithModel().upscale(model, pixels)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def test_tiles_blend_to_the_whole_image_result_for_a_local_operation():
    pixels = torch.rand(2, 3, 40, 50, generator=torch.Generator().manual_seed(3))
    local = lambda x: F.interpolate(x * 0.5 + 0.1, scale_factor=2, mode="nearest")  # noqa: E731
    calls = []
    out = tiled_upscale(local, pixels, 2, tile=16, overlap=4, on_tile=lambda done, total: calls.append((done, total)))
    torch.testing.assert_close(out, local(pixels))
    # rows start at 0, 12, 24 (flush with the bottom); columns at 0, 12, 24, 34
    assert calls[-1] == (len(calls), len(calls)) and len(calls) == 2 * 3 * 4


def test_tiled_network_output_stays_close_to_the_untiled_one(folders):
    from runtime.upscale.models import upscale_model_from_state_dict, upscale_image

    state = rrdb_state(blocks=1, upsamples=1)
    model = upscale_model_from_state_dict(state, "tiny")
    pixels = image(40, 36, seed=4)
    tiled = upscale_image(model, pixels, tile=24, overlap=8)
    whole = expected_output(state, pixels)
    assert tiled.shape == whole.shape == (1, 80, 72, 3)
    assert (tiled - whole).abs().mean() < 0.01


def test_progress_is_reported_per_tile(folders):
    from runtime.upscale.models import upscale_model_from_state_dict

    model = upscale_model_from_state_dict(rrdb_state(blocks=1, upsamples=1), "tiny")
    events = []
    hook = progress.ProgressHook("p", "5", "5", lambda event, data: events.append(data))
    with progress.installed(hook):
        ImageUpscaleWithModel().upscale(model, image(20, 20))
    assert [(e["value"], e["max"]) for e in events] == [(1, 1)]


@pytest.mark.parametrize("state,needle", [
    ({"layers.0.residual_group.blocks.0.norm1.weight": torch.zeros(4)}, "looks like a SwinIR-family model.*which is not supported"),
    ({"weird.weight": torch.zeros(4)}, "unrecognised keys"),
])
def test_unknown_architecture_names_node_input_and_file(folders, state, needle):
    folder = folders.models_dir / "upscale_models"
    folder.mkdir(parents=True)
    save_file(state, str(folder / "mystery.safetensors"))
    with pytest.raises(ModelFileError, match=rf"UpscaleModelLoader: input 'model_name' \(mystery.safetensors\).*"
                                             rf"mystery.safetensors: unknown upscale model architecture.*{needle}"):
        UpscaleModelLoader().load_model("mystery.safetensors")


def load_saved(folders, state, name):
    """`state` saved as models/upscale_models/<name> and read back by UpscaleModelLoader."""
    folder = folders.models_dir / "upscale_models"
    folder.mkdir(parents=True)
    save_file(state, str(folder / name))
    return UpscaleModelLoader().load_model(name)[0]


def test_grayscale_model_reads_luminance_and_gives_gray_rgb(folders):
    state = rrdb_state(in_channels=1, out_channels=1)
    model = load_saved(folders, state, "gray.safetensors")
    assert model.in_channels == 1
    pixels = image()
    (out,) = ImageUpscaleWithModel().upscale(model, pixels)
    assert out.shape == (1, 48, 40, 3)
    luma = (pixels * torch.tensor([0.299, 0.587, 0.114])).sum(-1, keepdim=True)
    torch.testing.assert_close(out, expected_output(state, luma).expand(-1, -1, -1, 3), atol=1e-5, rtol=1e-4)


def test_a_model_for_other_channel_counts_is_refused_by_name(folders):
    model = load_saved(folders, rrdb_state(in_channels=2, out_channels=2), "two.safetensors")
    with pytest.raises(ValueError, match="ImageUpscaleWithModel: the upscale model takes 2-channel pictures"):
        ImageUpscaleWithModel().upscale(model, image())
