"""MODEL: a family's diffusion network with its model sampling, latent format and per-branch weight patches."""

from __future__ import annotations

import copy

import torch

from runtime.devices import DeviceResident
from runtime.family import Family
from runtime.latent_format import LatentFormat
from runtime.networks.unet_keys import unet_key_map
from runtime.weights.patches import WeightPatch

# ComfyUI's masked-image channels for an inpainting model sampled without any mask: a black picture's latent
# (network space), per latent channel, rather than zeros
BLANK_INPAINT_LATENT = (0.8223, -0.6876, 0.6364, 0.1380)


class DiffusionModel(DeviceResident):
    """`unet` is the family's diffusion network (a diffusers module; a UNet for the SD families), `spec` the
    family's declaration (`runtime.family.Family`), `family` its name."""

    def __init__(self, unet, family: Family | str, model_sampling, latent_format: LatentFormat):
        if isinstance(family, str):
            from runtime import families

            family = families.get(family)
        self.unet = unet
        self.spec = family
        self.model_sampling = model_sampling
        self.latent_format = latent_format
        self.patches: tuple[WeightPatch, ...] = ()

    @property
    def family(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"DiffusionModel(family={self.family!r}, prediction={self.model_sampling.prediction_type!r})"

    def _networks(self):
        return [self.unet]

    def clone(self) -> "DiffusionModel":
        """A wrapper sharing the weights, whose patches are its own."""
        return copy.copy(self)

    def add_patches(self, patches: list[WeightPatch]) -> None:
        """Add weight patches (diffusers parameter names) to this wrapper only."""
        self.patches = self.patches + tuple(patches)

    def key_map(self) -> dict[str, str]:
        """Original-layout UNet key (no `model.diffusion_model.`) → diffusers parameter name, for LoRA files."""
        cached = getattr(self.unet, "_diffloom_key_map", None)
        if cached is None:
            cached = unet_key_map(dict(self.unet.config), self.unet.state_dict().keys())
            self.unet._diffloom_key_map = cached
        return cached

    @property
    def in_channels(self) -> int:
        """Latent channels the network takes (its family's network says how its config counts them)."""
        return self.spec.network.latent_channels(self.unet.config)

    def extra_conds(self, options: dict, latent_shape) -> dict[str, torch.Tensor]:
        """Network extras for one conditioning entry: the family's own (SDXL pooled text and size ids, unCLIP
        vectors), inpainting concat channels, a StyleModelApply key bias and GLIGEN boxes."""
        extras = dict(self.spec.extra_conds(self, options, latent_shape))
        if self.in_channels > self.latent_format.channels:
            extras["c_concat"] = self._concat(options, latent_shape)
        if options.get("cross_attn_key_bias") is not None:  # StyleModelApply's attn_bias strength
            extras["cross_attn_key_bias"] = options["cross_attn_key_bias"].float().reshape(1, -1)
        if options.get("gligen"):
            from runtime.conditioning.gligen import gligen_objects

            extras["gligen_objs"] = gligen_objects(self, options["gligen"], latent_shape)
        return extras

    def _concat(self, options: dict, latent_shape) -> torch.Tensor:
        """Inpainting models see a mask and a masked-image latent (UNet space) beside the noisy latent.

        Mask: `concat_mask`, else the sampler's `denoise_mask`; image: `concat_latent_image` (raw), else the
        sampler's `latent_image` (UNet space). Without any mask the whole image is regenerated from a blank one
        (`BLANK_INPAINT_LATENT`, as in ComfyUI).
        """
        batch, channels, h, w = latent_shape
        mask = options.get("concat_mask", options.get("denoise_mask"))
        image = options.get("concat_latent_image")
        if image is not None:
            image = self.latent_format.process_in(_resize(image, h, w))
        elif mask is not None and options.get("latent_image") is not None:
            image = _resize(options["latent_image"], h, w)
        if mask is None:
            mask = torch.ones(1, 1, h, w)
            image = torch.zeros(1, channels, h, w)
            if channels == len(BLANK_INPAINT_LATENT):
                image += torch.tensor(BLANK_INPAINT_LATENT).view(1, -1, 1, 1)
        else:
            mask = _resize(mask.reshape(-1, 1, *mask.shape[-2:]).float(), h, w).round()
        if image is None:
            image = torch.zeros(1, channels, h, w)
        parts = [p.expand(batch, *p.shape[1:]) if p.shape[0] == 1 else p for p in (mask, image)]
        concat = torch.cat(parts, dim=1)
        extra = self.in_channels - channels
        if concat.shape[1] != extra:
            raise ValueError(f"this {self.family} model takes {extra} extra input channels; mask + image give "
                             f"{concat.shape[1]}")
        return concat

    @torch.no_grad()
    def unet_forward(self, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor, extras: dict,
                     control: dict | None = None) -> torch.Tensor:
        """One batched network call on an input already scaled by `calculate_input`; the raw output (float32)."""
        return self.spec.network.forward(self, x, timestep, context, extras, control)


def _resize(tensor: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if tensor.shape[-2:] == (h, w):
        return tensor.float()
    return torch.nn.functional.interpolate(tensor.float(), size=(h, w), mode="bilinear", align_corners=False)
