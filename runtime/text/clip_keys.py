"""CLIP text-encoder parameter names: OpenAI/HF and OpenCLIP layouts ↔ the transformers `CLIPTextModel` layout.

Our canonical layout is transformers 5's `CLIPTextModel` state dict (no `text_model.` prefix) plus
`text_projection.weight` when the encoder has a projection.
"""

from __future__ import annotations

import re

import torch

# keys that carry no weights we use (buffers recomputed at load, OpenCLIP's temperature)
IGNORED = ("embeddings.position_ids", "logit_scale", "attn_mask")
_OPENCLIP_LAYER = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "attn.out_proj": "self_attn.out_proj",
                   "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
_OPENCLIP_TOP = {"token_embedding.weight": "embeddings.token_embedding.weight",
                 "positional_embedding": "embeddings.position_embedding.weight",
                 "ln_final.weight": "final_layer_norm.weight", "ln_final.bias": "final_layer_norm.bias"}
_RESBLOCK = re.compile(r"transformer\.resblocks\.(\d+)\.(.+)")


def hf_clip_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A HF-layout CLIP text state dict with or without the `text_model.` prefix → canonical keys."""
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("text_model.")
        if not key.endswith(IGNORED):
            out[key] = value
    return out


def is_openclip(state_dict: dict) -> bool:
    return "token_embedding.weight" in state_dict or any(k.startswith("transformer.resblocks.") for k in state_dict)


def openclip_to_hf(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP text-tower keys (SD2 `cond_stage_model.model.*`, SDXL CLIP-G) → canonical keys."""
    out = {}
    for key, value in state_dict.items():
        if key in _OPENCLIP_TOP:
            out[_OPENCLIP_TOP[key]] = value
        elif key == "text_projection":
            # OpenCLIP multiplies x @ P; a Linear stores P transposed
            out["text_projection.weight"] = value.t()
        elif match := _RESBLOCK.fullmatch(key):
            layer, rest = match.groups()
            prefix = f"encoder.layers.{layer}."
            if rest.startswith("attn.in_proj_"):
                kind = rest.removeprefix("attn.in_proj_")
                for name, part in zip(("q", "k", "v"), value.chunk(3, dim=0)):
                    out[f"{prefix}self_attn.{name}_proj.{kind}"] = part
                continue
            module, _, param = rest.rpartition(".")
            if module not in _OPENCLIP_LAYER:
                raise KeyError(f"unexpected OpenCLIP key {key!r}")
            out[prefix + _OPENCLIP_LAYER[module] + "." + param] = value
        elif not key.endswith(IGNORED):
            raise KeyError(f"unexpected OpenCLIP key {key!r}")
    return out


def hf_to_openclip(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Canonical keys → OpenCLIP text-tower keys (the inverse of `openclip_to_hf`; used to write test files)."""
    top = {v: k for k, v in _OPENCLIP_TOP.items()}
    layer_names = {v: k for k, v in _OPENCLIP_LAYER.items()}
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        if key in top:
            out[top[key]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.t().contiguous()
        elif match := re.fullmatch(r"encoder\.layers\.(\d+)\.(.+)\.(weight|bias)", key):
            layer, module, param = match.groups()
            prefix = f"transformer.resblocks.{layer}."
            if qkv_match := re.fullmatch(r"self_attn\.([qkv])_proj", module):
                qkv.setdefault((prefix, param), {})[qkv_match.group(1)] = value
            else:
                out[prefix + layer_names[module] + "." + param] = value
        else:
            raise KeyError(f"no OpenCLIP name for {key!r}")
    for (prefix, param), parts in qkv.items():
        out[f"{prefix}attn.in_proj_{param}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out
