"""The Chroma transformer (Chroma1-HD): Flux.1's double/single-stream blocks over 2×2 latent patches without their
per-block modulation linears, the modulations coming instead from one "approximator" MLP
(`distilled_guidance_layer`) fed with the timestep, a guidance of 0 and the modulation index. What its tensor shapes
say, the key renaming between its original layout and diffusers', the diffusers `ChromaTransformer2DModel` built
from them, and one call of it on a latent.

Facts follow spec families.md §2 (and §1 for what it shares with Flux). The original layout is Black Forest Labs'
Flux layout less `img_mod`/`txt_mod`/`modulation`/`vector_in`/`guidance_in`/`final_layer.adaLN_modulation`, plus
`distilled_guidance_layer.{in_proj, layers.N.in_layer, layers.N.out_layer, norms.N.scale, out_proj}`; the shared
part converts with the Flux network's conversion. Head width and RoPE split follow the Flux convention.
"""

from __future__ import annotations

import re

from runtime.family import Network, UnknownModelError
from runtime.networks import flux
from runtime.weights.shapes import indices

APPROXIMATOR = "distilled_guidance_layer."
MARKER = APPROXIMATOR + "norms.0.scale"  # the approximator's first RMS norm (Flux files have none)
# a key only diffusers-layout files have: `in_proj.bias` (diffusers' single-file marker) is named alike in both
DIFFUSERS_MARKER = APPROXIMATOR + "layers.0.linear_1.weight"
PATCH = flux.PATCH

# approximator layer module: original name → diffusers name
LAYER = {"in_layer": "linear_1", "out_layer": "linear_2"}
_LAYER_BACK = {v: k for k, v in LAYER.items()}
_APPROXIMATOR_KEY = re.compile(re.escape(APPROXIMATOR) + r"(layers|norms)\.(\d+)\.(.+)")


def _rename_approximator(key: str, names: dict, norm_param: tuple[str, str]) -> str:
    """An approximator key with its layer module renamed by `names` and its norms' `norm_param[0]` → `[1]`."""
    m = _APPROXIMATOR_KEY.fullmatch(key)
    if m is None:
        return key
    kind, index, rest = m.groups()
    if kind == "layers":
        module, _, param = rest.partition(".")
        return f"{APPROXIMATOR}layers.{index}.{names.get(module, module)}.{param}"
    return f"{APPROXIMATOR}norms.{index}.{norm_param[1] if rest == norm_param[0] else rest}"


def to_diffusers(state_dict: dict) -> dict:
    """Original-layout tensors (no file prefix) → diffusers names: the Flux conversion for the blocks, the
    approximator's `in_layer`/`out_layer` → `linear_1`/`linear_2` and `norms.N.scale` → `.weight`. Keys without a
    counterpart are kept, for the loader to report."""
    rest = {k: v for k, v in state_dict.items() if not k.startswith(APPROXIMATOR)}
    out = flux.to_diffusers(rest)
    for key, value in state_dict.items():
        if key.startswith(APPROXIMATOR):
            out[_rename_approximator(key, LAYER, ("scale", "weight"))] = value
    return out


def from_diffusers(state_dict: dict) -> dict:
    """diffusers-layout tensors → the original layout (the inverse of `to_diffusers`)."""
    rest = {k: v for k, v in state_dict.items() if not k.startswith(APPROXIMATOR)}
    out = flux.from_diffusers(rest)
    for key, value in state_dict.items():
        if key.startswith(APPROXIMATOR):
            out[_rename_approximator(key, _LAYER_BACK, ("weight", "scale"))] = value
    return out


def modulations(double: int, single: int) -> int:
    """How many modulation vectors the approximator makes: 3 per single block, 6 per stream of a double block, 2
    for the final layer (344 for Chroma1-HD's 19 + 38 blocks)."""
    return 3 * single + 2 * 6 * double + 2


def config_from_shapes(shapes: dict, prefix: str) -> dict:
    """The `ChromaTransformer2DModel` config of an original-layout transformer under `prefix`: Flux's stream
    config (`flux.stream_config`) plus the approximator's widths and depth."""
    p = prefix
    hidden = shapes[p + "img_in.weight"][0]
    approximator_hidden, approximator_in = shapes[p + APPROXIMATOR + "in_proj.weight"]
    if approximator_in % 4 or shapes[p + APPROXIMATOR + "out_proj.weight"][0] != hidden:
        raise UnknownModelError(f"Chroma approximator {approximator_in} → {approximator_hidden} → "
                                f"{shapes[p + APPROXIMATOR + 'out_proj.weight'][0]} does not fit {hidden} hidden")
    return {
        **flux.stream_config(shapes, p, "Chroma"),
        "approximator_num_channels": approximator_in, "approximator_hidden_dim": approximator_hidden,
        "approximator_layers": len(indices(shapes, re.escape(p + APPROXIMATOR) + r"layers\.(\d+)\.")),
    }


def describe(shapes: dict, prefix: str) -> str:
    hidden, packed_in = shapes[prefix + "img_in.weight"]
    return f"a Chroma transformer {hidden} wide taking {packed_in}-wide patches"


def build(config: dict, weights: dict, dtype, what: str):
    """A diffusers `ChromaTransformer2DModel` from original-layout tensors (keys without the file's prefix), built
    on the meta device. Its one buffer, the modulation-index embedding (`time_text_embed.mod_proj`, not stored in
    files), is computed: the parameter-free `time_text_embed` module is made again off the meta device."""
    from diffusers import ChromaTransformer2DModel
    from diffusers.models.transformers.transformer_chroma import ChromaCombinedTimestepTextProjEmbeddings

    from runtime.weights.meta import assign_weights, on_meta

    network = on_meta(lambda: ChromaTransformer2DModel(**config))
    network.time_text_embed = ChromaCombinedTimestepTextProjEmbeddings(
        num_channels=config["approximator_num_channels"] // 4,
        out_dim=modulations(config["num_layers"], config["num_single_layers"]))
    return assign_weights(network, to_diffusers(weights), dtype=dtype, what=what)


def forward(model, x, timestep, context, extras: dict, control: dict | None = None):
    """One batched call on an input already scaled by `calculate_input`; returns the velocity (float32).

    `timestep` is σ (the network multiplies it by 1000 itself). The distilled guidance is always 0 (the diffusers
    module embeds no other value) and there is no attention mask: Chroma's T5 context is unpadded (families.md
    §2(d)), which is what the diffusers pipeline's all-ones mask amounts to. ControlNets are not supported.
    """
    import torch

    from runtime.weights.patches import apply_patches

    if control:
        raise ValueError("ControlNets are not supported for Chroma models yet")
    network = model.unet
    apply_patches(network, model.patches)
    device, dtype = model.device, model.dtype
    batch, _, height, width = x.shape
    tokens, img_ids = flux.pack(x)
    timestep = torch.as_tensor(timestep, device=device).float().reshape(-1).expand(batch)
    out = network(hidden_states=tokens.to(device, dtype), encoder_hidden_states=context.to(device, dtype),
                  timestep=timestep, img_ids=img_ids.to(device),
                  txt_ids=torch.zeros(context.shape[1], 3, device=device), return_dict=False)[0]
    return flux.unpack(out.to(x.device, torch.float32), height, width)


CHROMA = Network(name="chroma", marker=MARKER, diffusers_marker=DIFFUSERS_MARKER, describe=describe,
                 from_diffusers=from_diffusers, build=build, forward=forward, latent_channels=flux.latent_channels)
