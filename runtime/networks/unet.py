"""The Stable Diffusion UNet, shared by the SD1.x, SD2.x and SDXL families: what its tensor shapes say, the
diffusers `UNet2DConditionModel` built from them, and one call of it.

Facts follow spec §9.3. Numbers that shapes cannot tell (attention heads, group-norm groups, the SDXL size-embedding
width) use the values of the real models; each family decides the rest (`UNetShapes.config`).
"""

from __future__ import annotations

import re

from runtime.family import Network, UnknownModelError
from runtime.weights.shapes import heads_for, indices

MARKER = "input_blocks.0.0.weight"
NORM_GROUPS = 32
TIME_ID_WIDTH = 256  # each SDXL size/crop/aesthetic number is embedded into 256 sinusoidal features


class UNetShapes:
    """An original-layout UNet read from its tensor shapes, before a family settles heads and class embedding.

    `adm` is the width of the class-embedding input (`label_emb`): SDXL's pooled text plus size ids, or unCLIP's
    image vector; None when the UNet has none.
    """

    def __init__(self, shapes: dict, prefix: str):
        p = prefix
        conv_in = shapes[p + MARKER]
        self.in_channels = conv_in[1]
        levels: list[list[tuple[int, int]]] = [[]]  # per resolution: (channels, transformer depth) per resnet
        for index in indices(shapes, re.escape(p) + r"input_blocks\.(\d+)\.")[1:]:
            block = f"{p}input_blocks.{index}."
            if block + "0.op.weight" in shapes:
                levels.append([])
                continue
            channels = shapes[block + "0.out_layers.3.weight"][0]
            levels[-1].append((channels, _transformer_depth(shapes, block + "1.")))
        layer_counts = {len(level) for level in levels}
        if len(layer_counts) != 1:
            raise UnknownModelError(f"UNet with uneven resnets per resolution {sorted(layer_counts)}")
        first_attn = next((k for k in shapes if k.startswith(p) and k.endswith("attn2.to_k.weight")), None)
        if first_attn is None:
            raise UnknownModelError("UNet without cross-attention (no attn2.to_k.weight)")
        self.context_dim = shapes[first_attn][1]
        proj_in = next(k for k in shapes if k.startswith(p) and k.endswith("proj_in.weight"))
        self.use_linear = len(shapes[proj_in]) == 2
        adm = shapes.get(p + "label_emb.0.0.weight")
        self.adm = adm[1] if adm else None
        mid_depth = _transformer_depth(shapes, p + "middle_block.1.")
        if mid_depth == 0:
            raise UnknownModelError("UNet without a middle transformer is not supported")
        self.channels = [level[0][0] for level in levels]
        depths = [level[0][1] for level in levels]
        # diffusers takes the middle block's depth from the last level; plain levels ignore their entry
        if depths[-1] not in (0, mid_depth):
            raise UnknownModelError(f"middle transformer depth {mid_depth} differs from the last level's {depths[-1]}")
        has_attn = [depth > 0 for depth in depths]
        self.base = {
            "sample_size": 64, "in_channels": self.in_channels, "out_channels": shapes[p + "out.2.weight"][0],
            "block_out_channels": self.channels, "layers_per_block": layer_counts.pop(),
            "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in has_attn],
            "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(has_attn)],
            "mid_block_type": "UNetMidBlock2DCrossAttn",
            "transformer_layers_per_block": [d if d else mid_depth for d in depths],
            "cross_attention_dim": self.context_dim, "use_linear_projection": self.use_linear,
            "norm_num_groups": NORM_GROUPS, "flip_sin_to_cos": True, "freq_shift": 0,
            "time_embedding_dim": shapes[p + "time_embed.0.weight"][0],
        }

    def config(self, heads: int | None = None, class_embedding: str | None = None) -> dict:
        """The diffusers config: a fixed head count (SD1) or 64-wide heads, and the class embedding as the family
        reads `adm` — "projection" (unCLIP's image vector) or "text_time" (SDXL's pooled text and size ids)."""
        config = dict(self.base)
        config["attention_head_dim"] = [heads or heads_for(c) for c in self.channels]
        if class_embedding == "projection":
            config.update(class_embed_type="projection", projection_class_embeddings_input_dim=self.adm)
        elif class_embedding == "text_time":
            config.update(addition_embed_type="text_time", addition_time_embed_dim=TIME_ID_WIDTH,
                          projection_class_embeddings_input_dim=self.adm)
        return config


def _transformer_depth(shapes: dict, prefix: str) -> int:
    return len(indices(shapes, re.escape(prefix) + r"transformer_blocks\.(\d+)\."))


def read_unet(shapes: dict, prefix: str) -> UNetShapes | None:
    """The UNet under `prefix`, or None when the file has none there; raises on UNets no family can build."""
    if prefix + MARKER not in shapes:
        return None
    return UNetShapes(shapes, prefix)


def marked_prediction(state_dict) -> str:
    """SDXL v-prediction files carry a `v_pred` marker tensor; without one a UNet predicts eps."""
    return "v" if "v_pred" in state_dict else "eps"


def discrete_sampling(prediction_type: str, state_dict):
    """The 1000-step DDPM table every SD UNet was trained on; `ztsnr` files use its zero-terminal-SNR rescale."""
    from runtime.sampling.model_sampling import DiscreteSampling

    return DiscreteSampling(prediction_type=prediction_type, zsnr="ztsnr" in state_dict)


def _describe(shapes: dict, prefix: str) -> str:
    unet = UNetShapes(shapes, prefix)
    embedding = f" and a {unet.adm}-wide class embedding (unCLIP or another variant)" if unet.adm else ""
    projection = "linear" if unet.use_linear else "convolutional"
    return f"a UNet with {unet.context_dim}-wide text context, {projection} attention projections{embedding}"


def _from_diffusers(state_dict: dict) -> dict:
    from runtime.networks.unet_keys import diffusers_unet_to_original

    return diffusers_unet_to_original(state_dict)


def build(config: dict, original: dict, dtype, what: str):
    """A diffusers UNet from original-layout tensors (keys without `model.diffusion_model.`)."""
    from diffusers import UNet2DConditionModel

    from runtime.networks.unet_keys import unet_key_map
    from runtime.weights.meta import assign_weights, on_meta

    unet = on_meta(lambda: UNet2DConditionModel(**config))
    mapping = unet_key_map(config, unet.state_dict().keys())
    return assign_weights(unet, {mapping.get(k, k): v for k, v in original.items()}, dtype=dtype, what=what)


def forward(model, x, timestep, context, extras: dict, control: dict | None = None):
    """One batched UNet call on an input already scaled by `calculate_input`; returns eps or v (float32).

    `extras` may hold `c_concat` (inpainting channels), `gligen_objs`, `class_labels` (unCLIP),
    `cross_attn_key_bias` and the SDXL `added_cond_kwargs` (`text_embeds`, `time_ids`); `control` ControlNet /
    T2I-Adapter residuals.
    """
    import torch

    from runtime.conditioning.attention_bias import cross_attention_key_bias, fit_key_bias
    from runtime.weights.patches import apply_patches

    unet = model.unet
    apply_patches(unet, model.patches)
    device, dtype = model.device, model.dtype
    extras = dict(extras or {})
    concat = extras.pop("c_concat", None)
    gligen_objs = extras.pop("gligen_objs", None)
    class_labels = extras.pop("class_labels", None)
    key_bias = extras.pop("cross_attn_key_bias", None)
    sample = x if concat is None else torch.cat([x, concat.to(x)], dim=1)
    added = {k: v.to(device, dtype) for k, v in extras.items()} or None
    kwargs = {}
    if control:
        if control.get("down") is not None:
            kwargs["down_block_additional_residuals"] = [t.to(device, dtype) for t in control["down"]]
        if control.get("mid") is not None:
            kwargs["mid_block_additional_residual"] = control["mid"].to(device, dtype)
        if control.get("intrablock") is not None:  # T2I-Adapter features (a fresh list: diffusers pops it)
            kwargs["down_intrablock_additional_residuals"] = [t.to(device, dtype) for t in control["intrablock"]]
    if class_labels is not None:
        kwargs["class_labels"] = class_labels.to(device, dtype)
    if gligen_objs is not None:  # GLIGEN boxes: the fusers were lent to the UNet by extra_conds
        kwargs["cross_attention_kwargs"] = {"gligen": {"objs": gligen_objs.to(device, dtype)}}
    timestep = torch.as_tensor(timestep, device=device).float().reshape(-1).expand(x.shape[0])
    if key_bias is not None:
        key_bias = fit_key_bias(key_bias.expand(x.shape[0], -1), context.shape[1]).to(device)
    with cross_attention_key_bias(unet, key_bias):
        out = unet(sample.to(device, dtype), timestep, encoder_hidden_states=context.to(device, dtype),
                   added_cond_kwargs=added, return_dict=False, **kwargs)[0]
    return out.to(x.device, torch.float32)


SD_UNET = Network(name="sd_unet", marker=MARKER, diffusers_marker="conv_in.weight", describe=_describe,
                  from_diffusers=_from_diffusers, build=build, forward=forward)
