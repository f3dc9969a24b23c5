"""Additive biases on a diffusers UNet's cross-attention keys (one per context token), for the length of a call.

diffusers' own `encoder_attention_mask` is a keep-mask turned into `(1 − m)·−10000` in the model's dtype, which
cannot carry a small bias such as log(0.7) through float16; so the bias goes straight into each cross-attention
module's `attention_mask` argument instead, where the attention processors add it to the logits.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


def fit_key_bias(bias: torch.Tensor, tokens: int, what: str = "the conditioning") -> torch.Tensor:
    """`[B, n]` → `[B, tokens]`: tokens appended later (ConditioningConcat) get no bias."""
    if bias.shape[-1] > tokens:
        raise ValueError(f"{what}: the cross-attention bias covers {bias.shape[-1]} tokens but the text "
                         f"context has only {tokens}")
    return torch.nn.functional.pad(bias, (0, tokens - bias.shape[-1]))


@contextmanager
def cross_attention_key_bias(unet: torch.nn.Module, bias: torch.Tensor | None):
    """Within the block, every cross-attention of `unet` adds `bias` `[B, tokens]` to its key logits."""
    if bias is None:
        yield
        return
    mask = bias[:, None, :]  # [B, 1 query row broadcast, keys], the shape diffusers' processors expect

    def add_bias(module, args, kwargs):
        kwargs["attention_mask"] = mask.to(args[0].device if args else mask.device, module.to_q.weight.dtype)
        return args, kwargs

    handles = [module.register_forward_pre_hook(add_bias, with_kwargs=True) for module in unet.modules()
               if getattr(module, "is_cross_attention", False)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
