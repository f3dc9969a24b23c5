"""What a model family declares: data plus small functions, read by the loaders, the MODEL and the CLIP.

A family module (one per family, in `runtime/families/`) defines `FAMILY = Family(...)`. Everything the rest of the
runtime knows about a family comes from that object: how its diffusion model is recognised in a file and configured
from tensor shapes, which network it builds and how that network is called, its latent format, its model sampling,
its conditioning extras and its text encoders. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.latent_format import LatentFormat

Shapes = dict[str, tuple[int, ...]]


class UnknownModelError(ValueError):
    """The state dict is not one of the model families diffloom can load."""


@dataclass(frozen=True)
class Network:
    """A diffusion-network architecture that several families may share (the SD UNet is one).

    `marker`: a key (after the file's diffusion-model prefix) that every original-layout file of it has;
    `diffusers_marker`: one that a diffusers-layout file of it has. `describe(shapes, prefix)` says in a few words
    what was found (for errors when no family accepts it); `from_diffusers(state_dict)` renames diffusers keys to
    the original layout; `build(config, weights, dtype, what)` makes the module from original-layout weights
    (prefix stripped); `forward(model, x, timestep, context, extras, control)` is one call of the network on an
    input already scaled by the model sampling, returning its raw output. `latent_channels(config)` is how many
    latent channels the built network takes (more than the latent format's: inpainting channels).
    """

    name: str
    marker: str
    diffusers_marker: str
    describe: Callable[[Shapes, str], str]
    from_diffusers: Callable[[dict], dict]
    build: Callable[[dict, dict, Any, str], Any]
    forward: Callable[..., Any]
    latent_channels: Callable[[Any], int] = lambda config: config["in_channels"]


@dataclass(frozen=True)
class TextEncoderSlot:
    """One text encoder of a family.

    `name` is the slot ("l", "h", "g"); `pad_token` pads its 77-token chunks; `layer` is the hidden layer used by
    default (None: the final output) and `norm_hidden` whether the final layer norm is applied to it. In an
    all-in-one checkpoint it lives under the first of `checkpoint_prefixes` present, each `(prefix, layout)` with
    layout "hf" (OpenAI/transformers names) or "openclip". `lora_prefixes` are the (kohya, diffusers/PEFT)
    module-name prefixes LoRA files use for it.
    """

    name: str
    pad_token: int
    layer: int | None
    norm_hidden: bool
    checkpoint_prefixes: tuple[tuple[str, str], ...]
    lora_prefixes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


def no_extras(model, options: dict, latent_shape) -> dict:
    return {}


def autoencoder_kl(weights: dict, dtype, what: str):
    """The SD-style VAE (diffusers `AutoencoderKL`, any latent width) from original or diffusers-layout weights."""
    from runtime.vae.autoencoder import build_vae

    return build_vae(weights, dtype, what)


@dataclass(frozen=True)
class Family:
    """A model family. `match(shapes, prefix)` returns the network config derived from the file's tensor shapes
    when the diffusion model under `prefix` is of this family, else None. When two families match one file, the
    higher `priority` wins (a narrower rule beats a broader one); equal priorities are an error.

    `prediction_type(state_dict, prefix, config)` tells what the network predicts ("eps", "v", …; a loader may
    override it) and `model_sampling(prediction_type, state_dict)` gives the sampling object (its sigmas and how
    the output becomes a denoised latent);
    `extra_conds(model, options, latent_shape)` the network extras of one conditioning entry beyond what every
    model adds (inpainting channels, attention biases). `latent_format` is the format for the latent channel count
    it names; files with another count keep its scale but get no preview factors. `clip_types` are the
    `CLIPLoader`/`DualCLIPLoader` type values whose text encoders make this family's CLIP. The VAE of a single
    file sits under `vae_prefix` and is built by `build_vae(weights, dtype, what)`. `compatible` names
    families whose add-ons (ControlNets) fit this one's network too.
    """

    name: str
    label: str
    network: Network
    match: Callable[[Shapes, str], dict | None]
    latent_format: LatentFormat
    prediction_type: Callable[[dict, str, dict], str]
    model_sampling: Callable[[str, dict], Any]
    text_encoders: tuple[TextEncoderSlot, ...]
    extra_conds: Callable[[Any, dict, Any], dict] = no_extras
    vae_prefix: str = "first_stage_model."
    build_vae: Callable[[dict, Any, str], Any] = autoencoder_kl
    clip_types: tuple[str, ...] = ()
    compatible: frozenset[str] = field(default_factory=frozenset)
    priority: int = 0

    def __repr__(self) -> str:
        return f"Family({self.name!r})"

    def text_encoder(self, slot: str) -> TextEncoderSlot:
        for encoder in self.text_encoders:
            if encoder.name == slot:
                return encoder
        raise KeyError(f"the {self.label} family has no text encoder {slot!r} "
                       f"(it has {[e.name for e in self.text_encoders]})")

    def fits(self, other: str) -> bool:
        """Whether add-ons made for family `other` fit this family's network."""
        return other == self.name or other in self.compatible
