"""STYLE_MODEL: the T2I-Adapter style adapter (coadapter-style), which turns CLIP vision hidden states into extra
text-context tokens. Sizes (width, context, tokens, layers) are read from the file's tensors."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from runtime.weights.shapes import heads_for
from runtime.devices import DeviceResident
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.weights.meta import assign_weights, on_meta


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """OpenAI CLIP's pre-norm transformer block (sequence-first), named as in the adapter files."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.ln_1(x)
        x = x + self.attn(normed, normed, normed, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class StyleAdapter(nn.Module):
    """Learned style tokens appended to the image tokens, a few transformer blocks, then projected to context."""

    def __init__(self, width: int, context_dim: int, tokens: int, layers: int):
        super().__init__()
        self.style_embedding = nn.Parameter(torch.zeros(1, tokens, width))
        # the files spell it "layes"
        self.transformer_layes = nn.Sequential(*[ResidualAttentionBlock(width, heads_for(width))
                                                 for _ in range(layers)])
        self.ln_pre = nn.LayerNorm(width)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, context_dim))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        tokens = self.style_embedding.shape[1]
        x = torch.cat([hidden, self.style_embedding.expand(hidden.shape[0], -1, -1)], dim=1)
        x = self.transformer_layes(self.ln_pre(x).permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, -tokens:]) @ self.proj


class StyleModel(DeviceResident):
    """STYLE_MODEL: `get_cond(clip_vision_output)` → extra context tokens `[B, tokens, context_dim]`."""

    def __init__(self, adapter: StyleAdapter):
        self.adapter = adapter

    def _networks(self):
        return [self.adapter]

    @torch.no_grad()
    def get_cond(self, clip_vision_output) -> torch.Tensor:
        hidden = clip_vision_output.last_hidden_state
        if hidden.shape[-1] != self.adapter.style_embedding.shape[-1]:
            raise ValueError(f"StyleModelApply: the CLIP vision output is {hidden.shape[-1]} wide, the style model "
                             f"expects {self.adapter.style_embedding.shape[-1]} (use the CLIP-L vision model)")
        return self.adapter(hidden.to(self.device, self.dtype)).float().cpu()


def style_model_from_state_dict(state_dict: dict[str, torch.Tensor], what: str) -> StyleModel:
    if "style_embedding" not in state_dict:
        kind = "a Flux Redux model" if "redux_up.weight" in state_dict else "not a T2I-Adapter style model"
        raise ModelFileError(f"{what} is {kind}; only SD1.x style adapters (style_embedding, transformer_layes.*) "
                             "are supported")
    _, tokens, width = state_dict["style_embedding"].shape
    context_dim = state_dict["proj"].shape[1]
    layers = len({m.group(1) for k in state_dict if (m := re.match(r"transformer_layes\.(\d+)\.", k))})
    adapter = on_meta(lambda: StyleAdapter(width, context_dim, tokens, layers))
    return StyleModel(assign_weights(adapter, state_dict, dtype=torch.float32, what=what))


def load_style_model(path: str | Path) -> StyleModel:
    return style_model_from_state_dict(load_state_dict(path), str(path))


def extend_key_bias(options: dict, text_tokens: int, style_tokens: int, bias: float) -> dict:
    """Options after appending `style_tokens` behind `text_tokens`: the per-token cross-attention bias (option
    `cross_attn_key_bias`) grows by `bias` for the style tokens, 0 for the text tokens it did not cover yet.

    Like ComfyUI's attention mask for `attn_bias`: log(strength) on the style tokens' attention logits (−inf at
    strength 0, no bias and no option at strength 1 unless an earlier apply made one)."""
    from runtime.conditioning.attention_bias import fit_key_bias

    previous = options.get("cross_attn_key_bias")
    if previous is None and bias == 0.0:
        return dict(options)
    previous = torch.zeros(1, text_tokens) if previous is None else previous.float().reshape(1, -1)
    text = fit_key_bias(previous, text_tokens, "StyleModelApply: input 'conditioning'")
    return {**options, "cross_attn_key_bias": torch.cat([text, torch.full((1, style_tokens), bias)], dim=1)}
