"""SwinIR through UpscaleModelLoader / ImageUpscaleWithModel: tiny random state dicts in the official key layout,
checked against a window-by-window functional forward written here from the paper; tiling and window padding."""

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from runtime.upscale.models import upscale_image, upscale_model_from_state_dict
from nodes.stages.upscale import ImageUpscaleWithModel, UpscaleModelLoader

DIM, WINDOW, HIDDEN, FEATURES = 8, 4, 16, 8
MEAN = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1)


def swinir_state(upsampler, scale, residual="1conv", depths=(2, 2), heads=(2, 1), seed=0, gain=1.0):
    """Official-layout weights, including the buffers the official code saves (index and a training-size mask);
    `gain` scales the random weights (small: a tamer, more local network)."""
    g = torch.Generator().manual_seed(seed)
    state = {}

    def add(name, *shape, scale_=0.2):
        state[name] = torch.randn(*shape, generator=g) * scale_ * gain

    def conv(name, cin, cout, k=3):
        add(f"{name}.weight", cout, cin, k, k)
        add(f"{name}.bias", cout, scale_=0.02)

    def norm(name):
        state[f"{name}.weight"] = 1 + torch.randn(DIM, generator=g) * 0.1
        add(f"{name}.bias", DIM, scale_=0.05)

    def tail(name):
        if residual == "1conv":
            conv(name, DIM, DIM)
        else:
            conv(f"{name}.0", DIM, DIM // 4)
            conv(f"{name}.2", DIM // 4, DIM // 4, k=1)
            conv(f"{name}.4", DIM // 4, DIM)

    conv("conv_first", 3, DIM)
    norm("patch_embed.norm")
    for i, (depth, n_heads) in enumerate(zip(depths, heads)):
        for j in range(depth):
            p = f"layers.{i}.residual_group.blocks.{j}"
            norm(f"{p}.norm1")
            norm(f"{p}.norm2")
            add(f"{p}.attn.relative_position_bias_table", (2 * WINDOW - 1) ** 2, n_heads, scale_=1.0)
            state[f"{p}.attn.relative_position_index"] = torch.zeros(WINDOW ** 2, WINDOW ** 2, dtype=torch.long)
            add(f"{p}.attn.qkv.weight", 3 * DIM, DIM)
            add(f"{p}.attn.qkv.bias", 3 * DIM, scale_=0.02)
            add(f"{p}.attn.proj.weight", DIM, DIM)
            add(f"{p}.attn.proj.bias", DIM, scale_=0.02)
            add(f"{p}.mlp.fc1.weight", HIDDEN, DIM)
            add(f"{p}.mlp.fc1.bias", HIDDEN, scale_=0.02)
            add(f"{p}.mlp.fc2.weight", DIM, HIDDEN)
            add(f"{p}.mlp.fc2.bias", DIM, scale_=0.02)
            if j % 2:  # saved for the 16×16 training size: must be ignored at other sizes
                state[f"{p}.attn_mask"] = torch.zeros(16, WINDOW ** 2, WINDOW ** 2)
        tail(f"layers.{i}.conv")
    norm("norm")
    tail("conv_after_body")
    if upsampler == "pixelshuffle":
        conv("conv_before_upsample.0", DIM, FEATURES)
        stages = [(0, 9)] if scale == 3 else [(2 * s, 4) for s in range(int(math.log2(scale)))]
        for index, factor in stages:
            conv(f"upsample.{index}", FEATURES, FEATURES * factor)
        conv("conv_last", FEATURES, 3)
    elif upsampler == "pixelshuffledirect":
        conv("upsample.0", DIM, 3 * scale ** 2)
    elif upsampler == "nearest+conv":
        conv("conv_before_upsample.0", DIM, FEATURES)
        conv("conv_up1", FEATURES, FEATURES)
        if scale == 4:
            conv("conv_up2", FEATURES, FEATURES)
        conv("conv_hr", FEATURES, FEATURES)
        conv("conv_last", FEATURES, 3)
    else:
        conv("conv_last", DIM, 3)
    return state


def reference_swinir(state, x, scale, upsampler):
    """SwinIR's forward on `[1,3,H,W]`, one window and one head at a time, straight from the state dict."""
    lrelu = lambda v: F.leaky_relu(v, 0.2)  # noqa: E731

    def conv(name, v, k=3):
        return F.conv2d(v, state[f"{name}.weight"], state[f"{name}.bias"], padding=k // 2)

    def tail(name, v):
        if f"{name}.weight" in state:
            return conv(name, v)
        return conv(f"{name}.4", lrelu(conv(f"{name}.2", lrelu(conv(f"{name}.0", v)), k=1)))

    def norm(name, v):
        return F.layer_norm(v, (DIM,), state[f"{name}.weight"], state[f"{name}.bias"])

    height, width = x.shape[-2:]
    pad_h, pad_w = (WINDOW - height % WINDOW) % WINDOW, (WINDOW - width % WINDOW) % WINDOW
    x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect") - MEAN
    feat = conv("conv_first", x)
    grid = feat[0].permute(1, 2, 0)  # [H, W, C]
    grid = norm("patch_embed.norm", grid)
    i = 0
    while f"layers.{i}.conv.weight" in state or f"layers.{i}.conv.0.weight" in state:
        h = grid
        j = 0
        while f"layers.{i}.residual_group.blocks.{j}.norm1.weight" in state:
            h = reference_block(state, f"layers.{i}.residual_group.blocks.{j}", h, WINDOW // 2 if j % 2 else 0)
            j += 1
        grid = grid + tail(f"layers.{i}.conv", h.permute(2, 0, 1)[None])[0].permute(1, 2, 0)
        i += 1
    body = tail("conv_after_body", norm("norm", grid).permute(2, 0, 1)[None]) + feat
    if upsampler == "pixelshuffle":
        h = lrelu(conv("conv_before_upsample.0", body))
        index = 0
        while f"upsample.{index}.weight" in state:
            h = conv(f"upsample.{index}", h)
            h = F.pixel_shuffle(h, round(math.sqrt(h.shape[1] / FEATURES)))
            index += 2
        out = conv("conv_last", h)
    elif upsampler == "pixelshuffledirect":
        out = F.pixel_shuffle(conv("upsample.0", body), scale)
    elif not upsampler:  # ×1 restoration: a residual on the (mean-subtracted) input
        out = conv("conv_last", body) + x
    else:
        h = lrelu(conv("conv_before_upsample.0", body))
        for name in [n for n in ("conv_up1", "conv_up2") if f"{n}.weight" in state]:
            h = lrelu(conv(name, F.interpolate(h, scale_factor=2, mode="nearest")))
        out = conv("conv_last", lrelu(conv("conv_hr", h)))
    return (out + MEAN)[..., :height * scale, :width * scale]


def reference_block(state, p, grid, shift):
    """One Swin block on `[H,W,C]`: pre-norm window attention (shifted by `shift`) and MLP, both residual."""
    height, width, _ = grid.shape
    table = state[f"{p}.attn.relative_position_bias_table"]
    n_heads = table.shape[1]
    head_dim = DIM // n_heads
    h = torch.roll(norm_of(state, f"{p}.norm1", grid), (-shift, -shift), (0, 1))
    # which of the three bands (by the cyclic shift) each rolled row / column comes from
    band = lambda n, size: int(n >= size - WINDOW) + int(n >= size - shift) if shift else 0  # noqa: E731
    out = torch.zeros_like(h)
    for wy in range(0, height, WINDOW):
        for wx in range(0, width, WINDOW):
            cells = [(wy + a, wx + b) for a in range(WINDOW) for b in range(WINDOW)]
            tokens = torch.stack([h[r, c] for r, c in cells])  # [N, C]
            q, k, v = F.linear(tokens, state[f"{p}.attn.qkv.weight"], state[f"{p}.attn.qkv.bias"]).chunk(3, -1)
            bias = torch.tensor([[[table[(ra - rb + WINDOW - 1) * (2 * WINDOW - 1) + (ca - cb + WINDOW - 1), n]
                                   for (rb, cb) in cells] for (ra, ca) in cells] for n in range(n_heads)])
            mask = torch.tensor([[0.0 if (band(ra, height), band(ca, width)) == (band(rb, height), band(cb, width))
                                  else -100.0 for (rb, cb) in cells] for (ra, ca) in cells])
            heads = []
            for n in range(n_heads):
                s = slice(n * head_dim, (n + 1) * head_dim)
                weights = torch.softmax(q[:, s] @ k[:, s].T / math.sqrt(head_dim) + bias[n] + mask, -1)
                heads.append(weights @ v[:, s])
            attended = F.linear(torch.cat(heads, -1), state[f"{p}.attn.proj.weight"], state[f"{p}.attn.proj.bias"])
            for (r, c), value in zip(cells, attended):
                out[r, c] = value
    grid = grid + torch.roll(out, (shift, shift), (0, 1))
    hidden = F.gelu(F.linear(norm_of(state, f"{p}.norm2", grid), state[f"{p}.mlp.fc1.weight"],
                             state[f"{p}.mlp.fc1.bias"]))
    return grid + F.linear(hidden, state[f"{p}.mlp.fc2.weight"], state[f"{p}.mlp.fc2.bias"])


def norm_of(state, name, v):
    return F.layer_norm(v, (v.shape[-1],), state[f"{name}.weight"], state[f"{name}.bias"])


def image(h, w, seed=1):
    return torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("upsampler,scale,residual", [
    ("pixelshuffle", 2, "1conv"), ("pixelshuffle", 3, "3conv"), ("pixelshuffle", 4, "1conv"),
    ("pixelshuffledirect", 3, "1conv"),
    ("nearest+conv", 4, "3conv"),
])
def test_swinir_matches_the_windowed_reference(folders, upsampler, scale, residual):
    state = swinir_state(upsampler, scale, residual)
    folder = folders.models_dir / "upscale_models"
    folder.mkdir(parents=True)
    torch.save({"params": state}, folder / "swinir.pth")
    (model,) = UpscaleModelLoader().load_model("swinir.pth")
    assert (model.architecture, model.scale) == ("SwinIR", scale)
    config = model.network.config
    assert (config.upsampler, config.residual_convs, config.depths, config.heads, config.window) == \
        (upsampler, residual, (2, 2), (2, 1), WINDOW)
    pixels = image(10, 9)  # not a multiple of the window: reflect-padded, then cropped
    (out,) = ImageUpscaleWithModel().upscale(model, pixels)
    assert out.shape == (1, 10 * scale, 9 * scale, 3)
    expected = reference_swinir(state, pixels.movedim(-1, 1), scale, upsampler).clamp(0, 1).movedim(1, -1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def test_restoration_variant_adds_its_residual_to_the_input():
    state = swinir_state("", 1, residual="3conv")
    model = upscale_model_from_state_dict(state, "denoise.pth")
    assert model.scale == 1 and model.network.config.upsampler == ""
    pixels = image(8, 7).movedim(-1, 1)
    torch.testing.assert_close(model(pixels), reference_swinir(state, pixels, 1, ""), atol=1e-5, rtol=1e-4)


def test_swinir_tiles_with_any_size_and_stays_close_to_the_untiled_output(folders):
    # tame weights: random full-gain ones amplify the different window partitions of each tile into seams
    model = upscale_model_from_state_dict(swinir_state("pixelshuffle", 2, gain=0.3), "tiny-swinir.pth")
    pixels = image(40, 37, seed=4)
    whole = model(pixels.movedim(-1, 1)).clamp(0, 1).movedim(1, -1)
    # 22 is no multiple of the window: rounded up to 24, tiles cut on the whole image's window grid (cut off the
    # grid, as at 22, the mean gap is 0.004)
    tiled = upscale_image(model, pixels, tile=22, overlap=8)
    assert tiled.shape == whole.shape == (1, 80, 74, 3)
    assert (tiled - whole).abs().mean() < 0.003
    assert (tiled - whole).abs().max() > 0  # the tiles really were computed separately


def test_an_absolute_position_embedding_is_refused_by_name():
    from runtime.weights.files import ModelFileError

    state = {**swinir_state("pixelshuffledirect", 2), "absolute_pos_embed": torch.zeros(1, 256, DIM)}
    with pytest.raises(ModelFileError, match="ape.pth: SwinIR with an absolute position embedding"):
        upscale_model_from_state_dict(state, "ape.pth")


@pytest.mark.parametrize("extra,name", [
    ({"relative_position_index_SA": torch.zeros(16, 36, dtype=torch.long),
      "layers.0.residual_group.overlap_attn.qkv.weight": torch.zeros(3 * DIM, DIM)}, "HAT"),
    ({"layers.0.residual_group.blocks.0.attn.logit_scale": torch.zeros(2, 1, 1)}, "Swin2SR"),
])
def test_swinir_relatives_are_named_not_mistaken_for_swinir(extra, name):
    from runtime.weights.files import ModelFileError

    with pytest.raises(ModelFileError, match=rf"relative.pth: unknown upscale model architecture: it looks like "
                                             rf"{name}, which is not supported"):
        upscale_model_from_state_dict({**swinir_state("pixelshuffle", 2), **extra}, "relative.pth")
