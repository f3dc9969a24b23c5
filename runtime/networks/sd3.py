"""The Stable Diffusion 3 / 3.5 MMDiT (joint image/text blocks over 2×2 latent patches; MMDiT-X adds a second,
image-only attention in the first blocks of 3.5 Medium): what its tensor shapes say, the key renaming between
Stability AI's layout and diffusers', the diffusers `SD3Transformer2DModel` built from them, and one call of it on
a latent.

Facts follow spec families.md §3. The config is read from shapes only. The head width is the length of a
query-norm scale (`attn.ln_q`, SD3.5); files without query norms (SD3.0) have the real models' 64-wide heads. In
the real models the width is 64 × depth, so their heads number the depth.
"""

from __future__ import annotations

import math
import re

from runtime.family import Network, UnknownModelError
from runtime.weights.keys import fused_source, fused_targets, swap_halves
from runtime.weights.shapes import indices

MARKER = "joint_blocks.0.context_block.attn.qkv.weight"
# `pos_embed.pos_embed` (the position table diffusers keeps as a persistent buffer) is in every diffusers-layout
# SD3 file and in no other network's: `pos_embed.proj.weight` alone is PixArt-style DiTs' too, and
# `transformer_blocks.0.attn.add_q_proj.weight` Flux's.
DIFFUSERS_MARKER = "pos_embed.pos_embed"
HEAD_WIDTH = 64  # without query norms

# Stability module name → diffusers module name(s); a tuple is a fused tensor whose rows are the parts in order
GLOBAL = {
    "x_embedder.proj": "pos_embed.proj", "context_embedder": "context_embedder",
    "t_embedder.mlp.0": "time_text_embed.timestep_embedder.linear_1",
    "t_embedder.mlp.2": "time_text_embed.timestep_embedder.linear_2",
    "y_embedder.mlp.0": "time_text_embed.text_embedder.linear_1",
    "y_embedder.mlp.2": "time_text_embed.text_embedder.linear_2",
    "final_layer.linear": "proj_out",
    # halves swapped: Stability (shift, scale), diffusers (scale, shift)
    "final_layer.adaLN_modulation.1": "norm_out.linear",
}
BLOCK = {
    "x_block.adaLN_modulation.1": "norm1.linear",
    "context_block.adaLN_modulation.1": "norm1_context.linear",  # the last (pre-only) block's halves swapped too
    "x_block.attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "context_block.attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
    "x_block.attn.ln_q": "attn.norm_q", "x_block.attn.ln_k": "attn.norm_k",
    "context_block.attn.ln_q": "attn.norm_added_q", "context_block.attn.ln_k": "attn.norm_added_k",
    "x_block.attn.proj": "attn.to_out.0", "context_block.attn.proj": "attn.to_add_out",
    "x_block.attn2.qkv": ("attn2.to_q", "attn2.to_k", "attn2.to_v"),
    "x_block.attn2.ln_q": "attn2.norm_q", "x_block.attn2.ln_k": "attn2.norm_k",
    "x_block.attn2.proj": "attn2.to_out.0",
    "x_block.mlp.fc1": "ff.net.0.proj", "x_block.mlp.fc2": "ff.net.2",
    "context_block.mlp.fc1": "ff_context.net.0.proj", "context_block.mlp.fc2": "ff_context.net.2",
}
ORIGINAL_BLOCK, DIFFUSERS_BLOCK = "joint_blocks.", "transformer_blocks."
BLOCKS = ((ORIGINAL_BLOCK, DIFFUSERS_BLOCK, BLOCK),)
FINAL_MODULATION = "final_layer.adaLN_modulation.1"
CONTEXT_MODULATION = "context_block.adaLN_modulation.1"


def _swapped(module: str, rows: int, hidden: int | None) -> bool:
    """Whether a modulation's two halves are ordered differently in the two layouts: the final layer's, and the
    last block's pre-only context modulation (2 × hidden rows: shift and scale only)."""
    return module == FINAL_MODULATION or (hidden is not None and module.endswith(CONTEXT_MODULATION)
                                          and rows == 2 * hidden)


def to_diffusers(state_dict: dict) -> dict:
    """Stability-layout tensors (no file prefix) → diffusers names: fused qkv split, `pos_embed` → the patch
    embedding's buffer, the shift/scale halves of the pre-only modulations swapped. Keys without a counterpart are
    kept, for the loader to report."""
    hidden = state_dict["x_embedder.proj.weight"].shape[0]
    out = {}
    for key, value in state_dict.items():
        if key == "pos_embed":
            out["pos_embed.pos_embed"] = value
            continue
        module, _, param = key.rpartition(".")
        targets = fused_targets(module, GLOBAL, BLOCKS)
        if targets is None:
            out[key] = value
            continue
        if _swapped(module, value.shape[0], hidden):
            value = swap_halves(value)
        for target, part in zip(targets, value.chunk(len(targets), dim=0)):
            out[f"{target}.{param}"] = part
    return out


def from_diffusers(state_dict: dict) -> dict:
    """diffusers-layout tensors → the Stability layout (the inverse of `to_diffusers`). A fused tensor with a part
    missing is left out, so the loader reports its parts as missing."""
    import torch

    hidden = state_dict["pos_embed.proj.weight"].shape[0] if "pos_embed.proj.weight" in state_dict else None
    parts: dict[str, list] = {}
    out = {}
    for key, value in state_dict.items():
        if key == "pos_embed.pos_embed":
            out["pos_embed"] = value
            continue
        module, _, param = key.rpartition(".")
        source = fused_source(module, GLOBAL, BLOCKS)
        if source is None:
            out[key] = value
            continue
        original, index, count = source
        parts.setdefault(f"{original}.{param}", [None] * count)[index] = value
    for name, pieces in parts.items():
        if any(piece is None for piece in pieces):
            continue
        value = torch.cat(pieces, dim=0) if len(pieces) > 1 else pieces[0]
        module = name.rpartition(".")[0]
        out[name] = swap_halves(value) if _swapped(module, value.shape[0], hidden) else value
    return out


def config_from_shapes(shapes: dict, prefix: str) -> dict:
    """The `SD3Transformer2DModel` config of a Stability-layout MMDiT under `prefix`."""
    p = prefix
    hidden, in_channels, patch, patch_w = shapes[p + "x_embedder.proj.weight"]
    norm = p + "joint_blocks.0.x_block.attn.ln_q.weight"
    head_width = shapes[norm][0] if norm in shapes else HEAD_WIDTH
    if patch != patch_w or hidden % head_width:
        raise UnknownModelError(f"MMDiT {hidden} wide with {patch}×{patch_w} patches and {head_width}-wide heads")
    positions = shapes[p + "pos_embed"][-2]
    side = math.isqrt(positions)
    if side * side != positions:
        raise UnknownModelError(f"MMDiT position table of {positions} entries (a square expected)")
    caption_width, context_width = shapes[p + "context_embedder.weight"]
    if caption_width != hidden:
        raise UnknownModelError(f"MMDiT {hidden} wide projecting its context to {caption_width}")
    return {
        "patch_size": patch, "in_channels": in_channels,
        "out_channels": shapes[p + "final_layer.linear.weight"][0] // (patch * patch),
        "num_layers": len(indices(shapes, re.escape(p) + r"joint_blocks\.(\d+)\.")),
        "attention_head_dim": head_width, "num_attention_heads": hidden // head_width,
        "joint_attention_dim": context_width, "caption_projection_dim": caption_width,
        "pooled_projection_dim": shapes[p + "y_embedder.mlp.0.weight"][1],
        "pos_embed_max_size": side,
        "dual_attention_layers": tuple(indices(shapes, re.escape(p) + r"joint_blocks\.(\d+)\.x_block\.attn2\.")),
        "qk_norm": "rms_norm" if norm in shapes else None,
    }


def describe(shapes: dict, prefix: str) -> str:
    hidden = shapes[prefix + "x_embedder.proj.weight"][0]
    depth = len(indices(shapes, re.escape(prefix) + r"joint_blocks\.(\d+)\."))
    return f"an SD3-style MMDiT {hidden} wide with {depth} joint blocks"


def build(config: dict, weights: dict, dtype, what: str):
    """A diffusers `SD3Transformer2DModel` from Stability-layout tensors (keys without the file's prefix). Its only
    buffer, the position table, is persistent (files store it), so it is built on the meta device."""
    from diffusers import SD3Transformer2DModel

    from runtime.weights.meta import assign_weights, on_meta

    network = on_meta(lambda: SD3Transformer2DModel(**config))
    return assign_weights(network, to_diffusers(weights), dtype=dtype, what=what)


def forward(model, x, timestep, context, extras: dict, control: dict | None = None):
    """One batched call on an input already scaled by `calculate_input`; returns the velocity (float32).

    `timestep` is σ·1000 (the discrete-flow model sampling's timestep; the network embeds it as is); `extras` hold
    `pooled_projections` (pooled CLIP-L ‖ CLIP-G text). Sizes that are not whole patches are padded circularly at
    the bottom and right and cut back, as ComfyUI does. ControlNets are not supported."""
    import torch

    from runtime.weights.patches import apply_patches

    if control:
        raise ValueError("ControlNets are not supported for SD3 models yet")
    network = model.unet
    apply_patches(network, model.patches)
    device, dtype = model.device, model.dtype
    batch, _, height, width = x.shape
    patch = network.config.patch_size
    pad_h, pad_w = (-height) % patch, (-width) % patch
    if pad_h or pad_w:
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="circular")
    timestep = torch.as_tensor(timestep, device=device).float().reshape(-1).expand(batch)
    out = network(hidden_states=x.to(device, dtype), encoder_hidden_states=context.to(device, dtype),
                  pooled_projections=extras["pooled_projections"].to(device, dtype), timestep=timestep,
                  return_dict=False)[0]
    return out[:, :, :height, :width].to(x.device, torch.float32)


SD3 = Network(name="sd3_mmdit", marker=MARKER, diffusers_marker=DIFFUSERS_MARKER, describe=describe,
              from_diffusers=from_diffusers, build=build, forward=forward)
