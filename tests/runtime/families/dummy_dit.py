"""A model family that exists only in the test tree: a PixArt-style diffusion transformer (diffusers
`PixArtTransformer2DModel`, diffusers key names) with CLIP-L text, an 8-channel latent with a shift, v prediction,
and the single-file layout ComfyUI's own saves use (`model.diffusion_model.`, `text_encoders.clip_l.transformer.`,
`vae.`). Registering `FAMILY` is all it takes for the loaders to open its files."""

import re

from runtime.family import Family, Network, TextEncoderSlot
from runtime.latent_format import LatentFormat
from runtime.networks.unet import discrete_sampling
from runtime.text.tokens import END

MARKER = "adaln_single.linear.weight"
HEAD_WIDTH = 8  # the dummy's own convention (a real family states its published head width)


def config_from_shapes(shapes: dict, prefix: str) -> dict:
    inner, in_channels, patch, _ = shapes[prefix + "pos_embed.proj.weight"]
    layers = {int(m.group(1)) for k in shapes if (m := re.match(re.escape(prefix) + r"transformer_blocks\.(\d+)\.", k))}
    return {"num_attention_heads": inner // HEAD_WIDTH, "attention_head_dim": HEAD_WIDTH, "in_channels": in_channels,
            "out_channels": shapes[prefix + "proj_out.weight"][0] // (patch * patch), "num_layers": len(layers),
            "sample_size": 8, "patch_size": patch, "norm_type": "ada_norm_single", "use_additional_conditions": False,
            "caption_channels": shapes[prefix + "caption_projection.linear_1.weight"][1],
            "cross_attention_dim": shapes[prefix + "transformer_blocks.0.attn2.to_k.weight"][1]}


def build(config: dict, weights: dict, dtype, what: str):
    from diffusers import PixArtTransformer2DModel

    from runtime.weights.meta import assign_weights

    # built off the meta device: its sin-cos position table is a buffer no file stores (tiny here, so cheap)
    return assign_weights(PixArtTransformer2DModel(**config), weights, dtype=dtype, what=what)


def forward(model, x, timestep, context, extras, control=None):
    import torch

    device, dtype = model.device, model.dtype
    timestep = torch.as_tensor(timestep, device=device).float().reshape(-1).expand(x.shape[0])
    out = model.unet(x.to(device, dtype), encoder_hidden_states=context.to(device, dtype), timestep=timestep,
                     added_cond_kwargs={"resolution": None, "aspect_ratio": None}, return_dict=False)[0]
    return out.to(x.device, torch.float32)


NETWORK = Network(name="dummy_dit", marker=MARKER, diffusers_marker="no such key",
                  describe=lambda shapes, prefix: "a dummy diffusion transformer", from_diffusers=dict, build=build,
                  forward=forward)

FAMILY = Family(
    name="dummy_dit", label="Dummy DiT", network=NETWORK, match=config_from_shapes,
    latent_format=LatentFormat(channels=8, scale_factor=0.5, shift_factor=0.25, rgb_factors=None),
    prediction_type=lambda state_dict, prefix, config: "v", model_sampling=discrete_sampling,
    text_encoders=(TextEncoderSlot("l", pad_token=END, layer=None, norm_hidden=True,
                                   checkpoint_prefixes=(("text_encoders.clip_l.transformer.", "hf"),)),),
    vae_prefix="vae.", clip_types=("dummy_dit",),
)
