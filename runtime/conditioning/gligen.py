"""GLIGEN (Li et al. 2023) for SD1.x: position-conditioned text boxes through gated self-attention layers.

A GLIGEN file holds one gated self-attention "fuser" per UNet transformer block (original names
`input_blocks.N.1.transformer_blocks.K.fuser.*`) and a `position_net` that turns (box, pooled text) pairs into
object tokens. diffusers' UNet runs a block's `fuser` after self-attention when it is called with
`cross_attention_kwargs={"gligen": {"objs": …}}`; we lend it our fusers for the calls that carry boxes.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from runtime.devices import DeviceResident
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.weights.meta import assign_weights, on_meta

MAX_OBJECTS = 30
SD1_HEADS = 8  # SD1.x UNets (and their GLIGEN fusers) use 8 heads in every block
_FUSER = re.compile(r"(?:model\.diffusion_model\.)?((?:input_blocks|middle_block|output_blocks)\..*?"
                    r"transformer_blocks\.\d+)\.fuser\.(.+)")


class _LentFuser:
    """A fuser as a UNet block sees it: follows the activations' device and dtype."""

    def __init__(self, module: nn.Module):
        self.module = module

    def __call__(self, hidden: torch.Tensor, objs: torch.Tensor) -> torch.Tensor:
        self.module.to(hidden.device, hidden.dtype)
        return self.module(hidden, objs.to(hidden))


def _precomputed_objects(objs: torch.Tensor) -> torch.Tensor:
    """Stands in for the UNet's `position_net`: the object tokens are computed before the call."""
    return objs


class Gligen(DeviceResident):
    """GLIGEN: `objects(boxes, latent_shape)` → object tokens, `lend_to(unet, key_map)` installs the fusers."""

    def __init__(self, fusers: dict[str, nn.Module], position_net: nn.Module, name: str):
        self.block_names = list(fusers)
        self.fusers = nn.ModuleList(fusers.values())
        self.position_net = position_net
        self.name = name
        self.key_dim = position_net.null_positive_feature.shape[0]

    def _networks(self):
        return [self.position_net, self.fusers]

    def __repr__(self) -> str:
        return f"Gligen({self.name}, {len(self.block_names)} blocks)"

    @torch.no_grad()
    def objects(self, boxes: list[tuple], latent_shape) -> torch.Tensor:
        """Object tokens `[1, 30, D]` for boxes `(pooled text [1,D], h, w, y, x)` in latent units."""
        _, _, height, width = latent_shape
        if len(boxes) > MAX_OBJECTS:
            raise ValueError(f"GLIGENTextBoxApply: {len(boxes)} boxes on one conditioning; GLIGEN takes at most "
                             f"{MAX_OBJECTS}")
        coords = torch.zeros(1, MAX_OBJECTS, 4)
        texts = torch.zeros(1, MAX_OBJECTS, self.key_dim)
        masks = torch.zeros(1, MAX_OBJECTS)
        for i, (pooled, h, w, y, x) in enumerate(boxes):
            if x + w > width or y + h > height:
                raise ValueError(f"GLIGENTextBoxApply: inputs 'x', 'y', 'width', 'height': the box at ({x * 8}, "
                                 f"{y * 8}) of {w * 8}×{h * 8} px lies outside the {width * 8}×{height * 8} image "
                                 f"(GLIGEN model {self.name})")
            if pooled.shape[-1] != self.key_dim:
                raise ValueError(f"GLIGENTextBoxApply: input 'clip' gives {pooled.shape[-1]}-wide pooled text, "
                                 f"GLIGEN model {self.name} expects {self.key_dim} (an SD1.x CLIP)")
            coords[0, i] = torch.tensor([x / width, y / height, (x + w) / width, (y + h) / height])
            texts[0, i] = pooled.reshape(-1).float()
            masks[0, i] = 1.0
        net = self.position_net
        return net(boxes=coords.to(self.device), masks=masks.to(self.device),
                   positive_embeddings=texts.to(self.device)).float().cpu()

    def lend_to(self, unet, key_map: dict[str, str]) -> None:
        """Give each of the UNet's transformer blocks its fuser (unregistered, so the UNet's weights, state dict
        and other branches are unchanged: diffusers only calls a fuser when a call carries GLIGEN objects)."""
        blocks = {}
        for original, diffusers_name in key_map.items():
            if original.endswith(".attn1.to_q.weight"):
                blocks[original.removesuffix(".attn1.to_q.weight")] = diffusers_name.removesuffix(".attn1.to_q.weight")
        if set(blocks) != set(self.block_names):
            raise ValueError(f"GLIGEN model {self.name} has fusers for {len(self.block_names)} transformer blocks, "
                             f"the model has {len(blocks)}: it is not made for this UNet (GLIGEN supports SD1.x)")
        for name, fuser in zip(self.block_names, self.fusers):
            object.__setattr__(unet.get_submodule(blocks[name]), "fuser", _LentFuser(fuser))
        object.__setattr__(unet, "position_net", _precomputed_objects)


def gligen_from_state_dict(state_dict: dict[str, torch.Tensor], what: str) -> Gligen:
    from diffusers.models.attention import GatedSelfAttentionDense
    from diffusers.models.embeddings import GLIGENTextBoundingboxProjection

    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        if match := _FUSER.fullmatch(key):
            grouped.setdefault(match.group(1), {})[match.group(2)] = value
    position = {k.removeprefix("position_net."): v for k, v in state_dict.items() if k.startswith("position_net.")}
    if not grouped or "null_positive_feature" not in position:
        raise ModelFileError(f"{what} is not a GLIGEN model: no `…transformer_blocks.N.fuser.*` and "
                             "`position_net.*` tensors")
    key_dim = position["null_positive_feature"].shape[0]
    fusers = {}
    for block, weights in grouped.items():
        query_dim = weights["linear.weight"].shape[0]
        fuser = on_meta(lambda: GatedSelfAttentionDense(query_dim, key_dim, SD1_HEADS, query_dim // SD1_HEADS))
        fusers[block] = assign_weights(fuser, weights, dtype=torch.float32, what=f"{what} ({block})")
    out_dim = position["linears.4.weight"].shape[0]
    net = on_meta(lambda: GLIGENTextBoundingboxProjection(positive_len=key_dim, out_dim=out_dim))
    net = assign_weights(net, position, dtype=torch.float32, what=f"{what} (position_net)")
    return Gligen(fusers, net, Path(what).name)


def load_gligen(path: str | Path) -> Gligen:
    return gligen_from_state_dict(load_state_dict(path), str(path))


def gligen_objects(model, option: tuple, latent_shape) -> torch.Tensor:
    """For a conditioning's `gligen` option `("position", Gligen, boxes)`: lend the fusers to the model's UNet
    and return the object tokens."""
    kind, gligen, boxes = option
    gligen.lend_to(model.unet, model.key_map())
    return gligen.objects(boxes if kind == "position" else [], latent_shape)
