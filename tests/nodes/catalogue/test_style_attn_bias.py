"""StyleModelApply's `attn_bias` strength on a tiny SD1 UNet: log(strength) on the style tokens' cross-attention
logits, checked against diffusers' own `encoder_attention_mask` path and against the text-only / plain-concat
predictions it must reduce to at strength 0 and 1."""

import math

import pytest
import torch

from runtime.sampling.guidance import predict, prepare_side
from nodes.stages.clip_vision import StyleModelApply
from nodes.stages.loaders import CheckpointLoaderSimple
from tests.tiny_models import L_WIDTH, write_tiny_sd1

LATENT = (1, 4, 8, 8)
STYLE_TOKENS = 5


class FixedStyle:
    """A STYLE_MODEL stand-in whose tokens are fixed (the adapter itself is tested in test_clip_vision)."""

    def __init__(self, tokens):
        self.tokens = tokens

    def get_cond(self, clip_vision_output):
        return self.tokens


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import runtime

    with runtime.configured(paths=runtime.Paths.create(tmp_path_factory.mktemp("style_bias"))) as settings:
        write_tiny_sd1(settings.paths.models_dir / "checkpoints", "sd1.safetensors")
        model, clip, _ = CheckpointLoaderSimple().load_checkpoint("sd1.safetensors")
    g = torch.Generator().manual_seed(3)
    text = torch.randn(1, 77, L_WIDTH, generator=g)
    # large style tokens so that they dominate the attention unless the bias holds them back
    style = FixedStyle(torch.randn(1, STYLE_TOKENS, L_WIDTH, generator=g) * 4)
    x = torch.randn(LATENT, generator=g)
    return model, text, style, x


def denoised(model, conditioning, x, sigma=2.0):
    torch.set_num_threads(1)
    side = prepare_side(model, conditioning, LATENT, "positive")
    return predict(model, x, torch.tensor(sigma), [side])[0]


def styled(setup, strength, strength_type="attn_bias"):
    model, text, style, _ = setup
    (conditioning,) = StyleModelApply().apply_stylemodel([[text, {}]], style, None, strength, strength_type)
    return conditioning


def test_strength_one_is_the_plain_concat_and_a_zero_bias_changes_nothing(setup):
    model, text, style, x = setup
    plain = denoised(model, styled(setup, 1.0, "multiply"), x)
    conditioning = styled(setup, 1.0)
    assert "cross_attn_key_bias" not in conditioning[0][1]
    torch.testing.assert_close(denoised(model, conditioning, x), plain, atol=0, rtol=0)
    zero_bias = [[conditioning[0][0], {"cross_attn_key_bias": torch.zeros(1, 77 + STYLE_TOKENS)}]]
    torch.testing.assert_close(denoised(model, zero_bias, x), plain, atol=1e-6, rtol=1e-5)


def test_bias_equals_diffusers_encoder_attention_mask(setup):
    model, text, style, x = setup
    conditioning = styled(setup, 0.3)
    context, options = conditioning[0]
    bias = options["cross_attn_key_bias"]
    assert bias.shape == (1, 77 + STYLE_TOKENS)
    assert bias[0, :77].abs().max() == 0 and torch.allclose(bias[0, 77:], torch.full((5,), math.log(0.3)))
    extras = model.extra_conds(options, LATENT)
    ours = model.unet_forward(x, torch.tensor([500.0]), context, extras)
    # diffusers turns a keep-mask m into the logit bias (1 − m)·−10000: m = 1 + log(0.3)/10000 in float32
    keep = 1 + bias.double() / 10000
    theirs = model.unet(x, torch.tensor([500.0]), encoder_hidden_states=context,
                        encoder_attention_mask=keep.float(), return_dict=False)[0]
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-3)
    plain = model.unet_forward(x, torch.tensor([500.0]), context, {})
    assert (ours - plain).abs().max() > 1e-2  # the bias matters at this strength


def test_strength_towards_zero_approaches_the_text_only_prediction(setup):
    model, text, style, x = setup
    text_only = denoised(model, [[text, {}]], x)
    gaps = [(denoised(model, styled(setup, s), x) - text_only).abs().max().item() for s in (0.5, 1e-2, 1e-4)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3
    torch.testing.assert_close(denoised(model, styled(setup, 0.0), x), text_only, atol=1e-5, rtol=1e-4)


def test_later_tokens_and_applies_extend_the_bias(setup):
    model, text, style, x = setup
    first = styled(setup, 0.5)
    (second,) = StyleModelApply().apply_stylemodel(first, style, None, 2.0, "multiply")
    bias = second[0][1]["cross_attn_key_bias"]
    assert bias.shape == (1, 77 + 2 * STYLE_TOKENS)
    assert torch.all(bias[0, 77:82] == math.log(0.5)) and torch.all(bias[0, 82:] == 0)
    # tokens concatenated behind the biased ones (ConditioningConcat) are unbiased, not an error
    longer = [[torch.cat([first[0][0], text], dim=1), first[0][1]]]
    assert denoised(model, longer, x).isfinite().all()
    cut = [[text, first[0][1]]]
    with pytest.raises(ValueError, match="cross-attention bias covers 82 tokens but the text context has only 77"):
        denoised(model, cut, x)
