"""MODEL: a diffusers UNet with its family, model sampling, latent format and per-branch weight patches."""

from __future__ import annotations

import copy

import torch

from runtime.conditioning.attention_bias import cross_attention_key_bias, fit_key_bias
from runtime.families.unet_keys import unet_key_map
from runtime.families.detect import TIME_ID_WIDTH
from runtime.devices import DeviceResident
from runtime.latent_format import LatentFormat
from runtime.weights.patches import WeightPatch, apply_patches

SDXL_DEFAULT_SIZE = 768  # size conditioning used when the conditioning carries no width/height
REFINER_AESTHETIC = {"positive": 6.0, "negative": 2.5}
# ComfyUI's masked-image channels for an inpainting model sampled without any mask: a black picture's latent
# (UNet space), per latent channel, rather than zeros
BLANK_INPAINT_LATENT = (0.8223, -0.6876, 0.6364, 0.1380)


class DiffusionModel(DeviceResident):
    def __init__(self, unet, family: str, model_sampling, latent_format: LatentFormat):
        self.unet = unet
        self.family = family
        self.model_sampling = model_sampling
        self.latent_format = latent_format
        self.patches: tuple[WeightPatch, ...] = ()

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
        return self.unet.config.in_channels

    def extra_conds(self, options: dict, latent_shape) -> dict[str, torch.Tensor]:
        """UNet extras for one conditioning entry: SDXL pooled text and size ids; inpainting concat channels."""
        extras: dict[str, torch.Tensor] = {}
        if self.family in ("sdxl", "sdxl_refiner"):
            extras["text_embeds"] = self._pooled(options)
            extras["time_ids"] = self._time_ids(options)
        if self.in_channels > self.latent_format.channels:
            extras["c_concat"] = self._concat(options, latent_shape)
        if self.unet.config.get("class_embed_type") == "projection":  # SD2.1 unCLIP
            extras["class_labels"] = self._unclip_vector(options)
        if options.get("cross_attn_key_bias") is not None:  # StyleModelApply's attn_bias strength
            extras["cross_attn_key_bias"] = options["cross_attn_key_bias"].float().reshape(1, -1)
        if options.get("gligen"):
            from runtime.conditioning.gligen import gligen_objects

            extras["gligen_objs"] = gligen_objects(self, options["gligen"], latent_shape)
        return extras

    def _pooled(self, options: dict) -> torch.Tensor:
        n_ids = 5 if self.family == "sdxl_refiner" else 6
        width = self.unet.config.projection_class_embeddings_input_dim - n_ids * TIME_ID_WIDTH
        if options.get("unclip_conditioning") and self.family == "sdxl":
            # SDXL "revision": image embeddings (unCLIPConditioning) stand in for the pooled text
            from runtime.conditioning.clip_vision import unclip_pooled

            return unclip_pooled(options["unclip_conditioning"], width, options.get("seed"))
        pooled = options.get("pooled_output")
        if pooled is None:
            return torch.zeros(1, width)
        return pooled.reshape(1, -1).float()

    def _unclip_vector(self, options: dict) -> torch.Tensor:
        """unCLIP's class input: noised image embeddings ⊕ noise-level embedding (zeros without an image)."""
        from runtime.conditioning.clip_vision import unclip_adm

        width = self.unet.config.projection_class_embeddings_input_dim
        if not options.get("unclip_conditioning"):
            return torch.zeros(1, width)
        return unclip_adm(options["unclip_conditioning"], width // 2, options.get("seed"))

    def _time_ids(self, options: dict) -> torch.Tensor:
        width = options.get("width", SDXL_DEFAULT_SIZE)
        height = options.get("height", SDXL_DEFAULT_SIZE)
        ids = [height, width, options.get("crop_h", 0), options.get("crop_w", 0)]
        if self.family == "sdxl_refiner":
            kind = "negative" if options.get("prompt_type") == "negative" else "positive"
            ids.append(options.get("aesthetic_score", REFINER_AESTHETIC[kind]))
        else:
            ids += [options.get("target_height", height), options.get("target_width", width)]
        return torch.tensor([ids], dtype=torch.float32)

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
        """One batched UNet call on an input already scaled by `calculate_input`; returns eps or v (float32)."""
        apply_patches(self.unet, self.patches)
        device, dtype = self.device, self.dtype
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
        with cross_attention_key_bias(self.unet, key_bias):
            out = self.unet(sample.to(device, dtype), timestep, encoder_hidden_states=context.to(device, dtype),
                            added_cond_kwargs=added, return_dict=False, **kwargs)[0]
        return out.to(x.device, torch.float32)


def _resize(tensor: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if tensor.shape[-2:] == (h, w):
        return tensor.float()
    return torch.nn.functional.interpolate(tensor.float(), size=(h, w), mode="bilinear", align_corners=False)
