"""The Flux.1 transformer (double-stream then single-stream blocks over 2×2 latent patches): what its tensor shapes
say, the key renaming between Black Forest Labs' layout and diffusers', the diffusers `FluxTransformer2DModel` built
from them, and one call of it on a latent.

Facts follow spec families.md §1. Everything the config needs is read from shapes, the RoPE split included: the
head width is the size of a query-norm scale, and its rotary axes are split like the real models' 128 = 16+56+56
(an eighth for the index axis, the rest halved between rows and columns), so head widths must be multiples of 32.
"""

from __future__ import annotations

import re

from runtime.family import Network, UnknownModelError
from runtime.weights.keys import fused_source, fused_targets, swap_halves
from runtime.weights.shapes import indices

MARKER = "double_blocks.0.img_attn.norm.key_norm.scale"
DIFFUSERS_MARKER = "x_embedder.weight"
PATCH = 2  # the network sees 2×2 patches of the latent as one token
ROPE_THETA = 10000

# BFL module name → diffusers module name(s); a tuple is a fused BFL tensor whose rows are the listed modules in
# order (every part `hidden` rows wide, the last one taking the rest: the single blocks' MLP input)
GLOBAL = {
    "img_in": "x_embedder", "txt_in": "context_embedder",
    "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
    "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
    "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
    "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
    "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
    "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
    "final_layer.linear": "proj_out",
    "final_layer.adaLN_modulation.1": "norm_out.linear",  # halves swapped: BFL (shift, scale), diffusers (scale, shift)
}
DOUBLE = {
    "img_mod.lin": "norm1.linear", "txt_mod.lin": "norm1_context.linear",
    "img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
    "img_attn.norm.query_norm": "attn.norm_q", "img_attn.norm.key_norm": "attn.norm_k",
    "txt_attn.norm.query_norm": "attn.norm_added_q", "txt_attn.norm.key_norm": "attn.norm_added_k",
    "img_attn.proj": "attn.to_out.0", "txt_attn.proj": "attn.to_add_out",
    "img_mlp.0": "ff.net.0.proj", "img_mlp.2": "ff.net.2",
    "txt_mlp.0": "ff_context.net.0.proj", "txt_mlp.2": "ff_context.net.2",
}
SINGLE = {
    "modulation.lin": "norm.linear", "linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"),
    "norm.query_norm": "attn.norm_q", "norm.key_norm": "attn.norm_k", "linear2": "proj_out",
}
BLOCKS = (("double_blocks.", "transformer_blocks.", DOUBLE), ("single_blocks.", "single_transformer_blocks.", SINGLE))
SWAPPED = "final_layer.adaLN_modulation.1"


def to_diffusers(state_dict: dict) -> dict:
    """BFL-layout tensors (no file prefix) → diffusers names: fused projections split, `_norm.scale` → `.weight`,
    the final modulation's halves swapped. Keys without a counterpart are kept, for the loader to report."""
    hidden = state_dict["img_in.weight"].shape[0]
    out = {}
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        targets = fused_targets(module, GLOBAL, BLOCKS)
        if targets is None:
            out[key] = value
            continue
        param = "weight" if param == "scale" else param
        if module == SWAPPED:
            value = swap_halves(value)
        sizes = [hidden] * (len(targets) - 1) + [value.shape[0] - hidden * (len(targets) - 1)]
        for target, part in zip(targets, value.split(sizes, dim=0)):
            out[f"{target}.{param}"] = part
    return out


def from_diffusers(state_dict: dict) -> dict:
    """diffusers-layout tensors → the BFL layout (the inverse of `to_diffusers`). A fused tensor with a part
    missing is left out, so the loader reports its parts as missing."""
    import torch

    parts: dict[str, list] = {}
    out = {}
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        source = fused_source(module, GLOBAL, BLOCKS)
        if source is None:
            out[key] = value
            continue
        bfl_module, index, count = source
        if param == "weight" and bfl_module.endswith("_norm"):
            param = "scale"
        parts.setdefault(f"{bfl_module}.{param}", [None] * count)[index] = value
    for name, pieces in parts.items():
        if any(piece is None for piece in pieces):
            continue
        value = torch.cat(pieces, dim=0) if len(pieces) > 1 else pieces[0]
        out[name] = swap_halves(value) if name.startswith(SWAPPED + ".") else value
    return out


def rope_axes(head_width: int) -> tuple[int, int, int]:
    """The rotary dimensions per position axis (index, row, column) of a head: (16, 56, 56) for 128."""
    index = head_width // 8
    side = (head_width - index) // 2
    if head_width % 32:
        raise UnknownModelError(f"Flux transformer with {head_width}-wide attention heads (a multiple of 32 expected)")
    return index, side, side


def stream_config(shapes: dict, prefix: str, what: str = "Flux") -> dict:
    """The config every double/single-stream transformer of this design shares (Flux.1, Chroma): `patch_size` 2
    with `out_channels` in latent channels gives the real output projection (4 × 16) and tells the loader the latent
    width; `in_channels` is the packed token width (64 = 16 channels × 2×2)."""
    p = prefix
    hidden, packed_in = shapes[p + "img_in.weight"]
    head_width = shapes[p + MARKER][0]
    if hidden % head_width:
        raise UnknownModelError(f"{what} transformer {hidden} wide with {head_width}-wide heads")
    mlp = shapes[p + "double_blocks.0.img_mlp.0.weight"][0]
    if mlp != 4 * hidden:
        raise UnknownModelError(f"{what} transformer with a {mlp}-wide MLP for {hidden} hidden (4× expected)")
    return {
        "patch_size": PATCH, "in_channels": packed_in,
        "out_channels": shapes[p + "final_layer.linear.weight"][0] // (PATCH * PATCH),
        "num_layers": len(indices(shapes, re.escape(p) + r"double_blocks\.(\d+)\.")),
        "num_single_layers": len(indices(shapes, re.escape(p) + r"single_blocks\.(\d+)\.")),
        "attention_head_dim": head_width, "num_attention_heads": hidden // head_width,
        "joint_attention_dim": shapes[p + "txt_in.weight"][1],
        "axes_dims_rope": rope_axes(head_width),
    }


def config_from_shapes(shapes: dict, prefix: str) -> dict:
    """The `FluxTransformer2DModel` config of a BFL-layout transformer under `prefix`: the shared stream config plus
    the pooled-text width and whether it embeds distilled guidance."""
    return {**stream_config(shapes, prefix),
            "pooled_projection_dim": shapes[prefix + "vector_in.in_layer.weight"][1],
            "guidance_embeds": prefix + "guidance_in.in_layer.weight" in shapes}


def describe(shapes: dict, prefix: str) -> str:
    hidden, packed_in = shapes[prefix + "img_in.weight"]
    return f"a Flux.1 transformer {hidden} wide taking {packed_in}-wide patches"


def build(config: dict, weights: dict, dtype, what: str):
    """A diffusers `FluxTransformer2DModel` from BFL-layout tensors (keys without the file's prefix). It has no
    buffers (RoPE is computed per call), so it is built on the meta device."""
    from diffusers import FluxTransformer2DModel

    from runtime.weights.meta import assign_weights, on_meta

    network = on_meta(lambda: FluxTransformer2DModel(**config))
    return assign_weights(network, to_diffusers(weights), dtype=dtype, what=what)


def latent_channels(config) -> int:
    """The latent channels behind the packed input width: 2×2 patches of them make one token."""
    return config["in_channels"] // (PATCH * PATCH)


def pack(latent):
    """[B, C, H, W] → ([B, h·w, C·4] tokens, [h·w, 3] position ids (0, row, column)); odd sizes are padded
    circularly at the bottom and right first, as ComfyUI does."""
    import torch

    batch, channels, height, width = latent.shape
    pad_h, pad_w = (-height) % PATCH, (-width) % PATCH
    if pad_h or pad_w:
        latent = torch.nn.functional.pad(latent, (0, pad_w, 0, pad_h), mode="circular")
    h, w = latent.shape[-2] // PATCH, latent.shape[-1] // PATCH
    tokens = latent.reshape(batch, channels, h, PATCH, w, PATCH).permute(0, 2, 4, 1, 3, 5)
    ids = torch.zeros(h, w, 3)
    ids[..., 1] = torch.arange(h).view(-1, 1)
    ids[..., 2] = torch.arange(w).view(1, -1)
    return tokens.reshape(batch, h * w, channels * PATCH * PATCH), ids.reshape(h * w, 3)


def unpack(tokens, height: int, width: int):
    """The inverse of `pack` for a [B, C, height, width] latent (padding cut off)."""
    batch, _, features = tokens.shape
    h, w = -(-height // PATCH), -(-width // PATCH)
    channels = features // (PATCH * PATCH)
    latent = tokens.reshape(batch, h, w, channels, PATCH, PATCH).permute(0, 3, 1, 4, 2, 5)
    return latent.reshape(batch, channels, h * PATCH, w * PATCH)[:, :, :height, :width]


def reference_tokens(latents: list):
    """Kontext reference latents (network space) as extra image tokens [B, n, C·4] and their ids [n, 3], placed
    ComfyUI's "offset" way: index 1, each one beside or below those before it (whichever keeps the canvas of
    references closer to square), offsets rounded to whole patches."""
    import torch

    tokens, ids = [], []
    height = width = 0
    for latent in latents:
        h, w = latent.shape[-2:]
        down, right = (0, width) if h + height > w + width else (height, 0)
        height, width = max(height, h + down), max(width, w + right)
        packed, position = pack(latent)
        position[:, 0] = 1
        position[:, 1] += (down + PATCH // 2) // PATCH
        position[:, 2] += (right + PATCH // 2) // PATCH
        tokens.append(packed)
        ids.append(position)
    return torch.cat(tokens, dim=1), torch.cat(ids)


def forward(model, x, timestep, context, extras: dict, control: dict | None = None):
    """One batched call on an input already scaled by `calculate_input`; returns the velocity (float32).

    `timestep` is σ (the network multiplies it by 1000 itself); `extras` hold `pooled_projections` (the vector
    input), for guidance-distilled models `guidance`, and for Kontext `reference_tokens` with `reference_ids`
    (from `reference_tokens`): attended to beside the image, their outputs dropped. ControlNets are not supported.
    """
    import torch

    from runtime.weights.patches import apply_patches

    if control:
        raise ValueError("ControlNets are not supported for Flux models yet")
    network = model.unet
    apply_patches(network, model.patches)
    device, dtype = model.device, model.dtype
    batch, _, height, width = x.shape
    tokens, img_ids = pack(x)
    image_tokens = tokens.shape[1]
    if extras.get("reference_tokens") is not None:
        tokens = torch.cat([tokens, extras["reference_tokens"].to(tokens)], dim=1)
        img_ids = torch.cat([img_ids, extras["reference_ids"][0].to(img_ids)])
    guidance = extras.get("guidance")
    if network.config.guidance_embeds and guidance is None:
        raise ValueError("this Flux model is guidance-distilled and needs a guidance value; disabled guidance "
                         "(FluxDisableGuidance) is not supported for it")
    if guidance is not None and network.config.guidance_embeds:
        guidance = guidance.reshape(-1).to(device, torch.float32).expand(batch)
    else:
        guidance = None
    timestep = torch.as_tensor(timestep, device=device).float().reshape(-1).expand(batch)
    out = network(hidden_states=tokens.to(device, dtype), encoder_hidden_states=context.to(device, dtype),
                  pooled_projections=extras["pooled_projections"].to(device, dtype), timestep=timestep,
                  img_ids=img_ids.to(device), txt_ids=torch.zeros(context.shape[1], 3, device=device),
                  guidance=guidance, return_dict=False)[0]
    return unpack(out[:, :image_tokens].to(x.device, torch.float32), height, width)


FLUX = Network(name="flux", marker=MARKER, diffusers_marker=DIFFUSERS_MARKER, describe=describe,
               from_diffusers=from_diffusers, build=build, forward=forward, latent_channels=latent_channels)
