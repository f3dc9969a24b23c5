"""CLIP_VISION: image encoders in ComfyUI's clip_vision file layouts on transformers' CLIPVisionModelWithProjection,
the CLIP_VISION_OUTPUT they produce, and the unCLIP noise augmentation that turns image embeddings into the
pooled vector of SDXL "revision" (spec §8.3, unCLIPConditioning)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from runtime.text.clip_keys import openclip_to_hf
from runtime.weights.shapes import heads_for
from runtime.devices import DeviceResident
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.weights.meta import assign_weights, on_meta

# OpenAI CLIP's pixel statistics (every SD-family vision tower uses them)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Heads cannot be read from the weights: the released towers (ViT-B, OpenAI ViT-L, OpenCLIP ViT-H and bigG)
VISION_HEADS = {768: 12, 1024: 16, 1280: 16, 1664: 16}
CLASS_EMBEDDING = "vision_model.embeddings.class_embedding"
_OPENCLIP_VISUAL = {"class_embedding": CLASS_EMBEDDING,
                    "positional_embedding": "vision_model.embeddings.position_embedding.weight",
                    "conv1.weight": "vision_model.embeddings.patch_embedding.weight",
                    "ln_pre.weight": "vision_model.pre_layrnorm.weight",
                    "ln_pre.bias": "vision_model.pre_layrnorm.bias",
                    "ln_post.weight": "vision_model.post_layernorm.weight",
                    "ln_post.bias": "vision_model.post_layernorm.bias"}
_TEXT_MARKERS = ("token_embedding.weight", "text_model.embeddings.token_embedding.weight",
                 "embeddings.token_embedding.weight", "transformer.text_model.embeddings.token_embedding.weight")


@dataclass
class ClipVisionOutput:
    """CLIP_VISION_OUTPUT: projected embeddings `[B,P]`, the last and penultimate hidden states `[B,T,W]`."""

    image_embeds: torch.Tensor
    last_hidden_state: torch.Tensor
    penultimate_hidden_states: torch.Tensor

    def __getitem__(self, key: str) -> torch.Tensor:  # plugins index it like a dict, as in ComfyUI
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return hasattr(self, key)

    def __cache_size__(self) -> tuple[int, int]:  # the executor's cache budget counts the tensors (all on CPU)
        tensors = (self.image_embeds, self.last_hidden_state, self.penultimate_hidden_states)
        return sum(t.element_size() * t.nelement() for t in tensors), 0


def openclip_visual_to_hf(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An OpenCLIP `visual.*` tower (prefix removed) → CLIPVisionModelWithProjection keys."""
    out, blocks = {}, {}
    for key, value in state_dict.items():
        if key in _OPENCLIP_VISUAL:
            out[_OPENCLIP_VISUAL[key]] = value
        elif key == "proj":
            out["visual_projection.weight"] = value.t().contiguous()  # OpenCLIP computes x @ proj
        elif key.startswith("transformer.resblocks."):
            blocks[key] = value
        else:
            raise ModelFileError(f"unexpected OpenCLIP vision key {key!r}")
    out.update({"vision_model." + k: v for k, v in openclip_to_hf(blocks).items()})
    return out


def canonical_vision_state(state_dict: dict[str, torch.Tensor], what: str) -> dict[str, torch.Tensor]:
    """The vision tower of a clip_vision file (HF layout with or without `vision_model.`, full HF CLIP, OpenCLIP
    `visual.*`) in CLIPVisionModelWithProjection keys; a text encoder or anything else is refused."""
    if "visual.transformer.resblocks.0.attn.in_proj_weight" in state_dict:
        return openclip_visual_to_hf({k.removeprefix("visual."): v for k, v in state_dict.items()
                                      if k.startswith("visual.")})
    if CLASS_EMBEDDING in state_dict:
        return {k: v for k, v in state_dict.items() if k.startswith(("vision_model.", "visual_projection."))
                and not k.endswith("position_ids")}
    if "embeddings.class_embedding" in state_dict and "encoder.layers.0.layer_norm1.weight" in state_dict:
        return {("vision_model." + k if not k.startswith("visual_projection.") else k): v
                for k, v in state_dict.items() if not k.endswith("position_ids")}
    if any(marker in state_dict for marker in _TEXT_MARKERS):
        raise ModelFileError(f"{what} is a CLIP text encoder, not a CLIP vision model (it has token embeddings "
                             "and no image patch embedding); put it in models/text_encoders and load it with "
                             "CLIPLoader")
    raise ModelFileError(f"{what} is not a CLIP vision model: no vision_model.embeddings.class_embedding or "
                         "visual.transformer.* tensors")


def vision_config(shapes: dict[str, tuple[int, ...]]):
    """A transformers CLIPVisionConfig for canonical vision shapes."""
    from transformers import CLIPVisionConfig

    width = shapes[CLASS_EMBEDDING][0]
    patch = shapes["vision_model.embeddings.patch_embedding.weight"][-1]
    positions = shapes["vision_model.embeddings.position_embedding.weight"][0]
    layers = {int(m.group(1)) for k in shapes if (m := re.match(r"vision_model\.encoder\.layers\.(\d+)\.", k))}
    projection = shapes.get("visual_projection.weight")
    return CLIPVisionConfig(
        hidden_size=width, intermediate_size=shapes["vision_model.encoder.layers.0.mlp.fc1.weight"][0],
        num_hidden_layers=len(layers), num_attention_heads=VISION_HEADS.get(width, heads_for(width)),
        image_size=round(math.sqrt(positions - 1)) * patch, patch_size=patch,
        projection_dim=projection[0] if projection else width,
        # OpenAI's towers (B, L) use the sigmoid GELU approximation; OpenCLIP's (H, bigG) the exact one
        hidden_act="quick_gelu" if width in (768, 1024) else "gelu", layer_norm_eps=1e-5)


class ClipVision(DeviceResident):
    """CLIP_VISION: a CLIPVisionModelWithProjection and the preprocessing its encoder expects."""

    def __init__(self, model):
        self.model = model
        self.image_size = model.config.image_size

    def _networks(self):
        return [self.model]

    def __repr__(self) -> str:
        config = self.model.config
        return f"ClipVision(width={config.hidden_size}, layers={config.num_hidden_layers}, size={self.image_size})"

    @torch.no_grad()
    def encode_image(self, image: torch.Tensor, crop: bool = True) -> ClipVisionOutput:
        """Encode IMAGE `[B,H,W,C]`; crop=True resizes the short side and centre-crops, False squashes."""
        from runtime.devices import compute_device

        self.load(compute_device())
        pixels = preprocess(image, self.image_size, crop).to(self.device, self.dtype)
        out = self.model(pixel_values=pixels, output_hidden_states=True)
        return ClipVisionOutput(image_embeds=out.image_embeds.float().cpu(),
                                last_hidden_state=out.last_hidden_state.float().cpu(),
                                penultimate_hidden_states=out.hidden_states[-2].float().cpu())


def preprocess(image: torch.Tensor, size: int, crop: bool) -> torch.Tensor:
    """IMAGE → normalised `[B,3,size,size]`: bicubic (antialiased) resize, centre crop, 8-bit rounding."""
    pixels = image[..., :3].movedim(-1, 1).float()
    height, width = pixels.shape[-2:]
    if (height, width) != (size, size):
        if crop:
            scale = size / min(height, width)
            target = (round(scale * height), round(scale * width))
        else:
            target = (size, size)
        pixels = torch.nn.functional.interpolate(pixels, size=target, mode="bicubic", antialias=True)
        top, left = (pixels.shape[-2] - size) // 2, (pixels.shape[-1] - size) // 2
        pixels = pixels[..., top:top + size, left:left + size]
    pixels = (pixels * 255).clamp(0, 255).round() / 255  # the encoder was trained on 8-bit pictures
    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    return (pixels - mean) / std


def clip_vision_from_state_dict(state_dict: dict[str, torch.Tensor], what: str,
                                dtype: torch.dtype = torch.float32) -> ClipVision:
    from transformers import CLIPVisionModelWithProjection

    canonical = canonical_vision_state(state_dict, what)
    if "visual_projection.weight" not in canonical:
        raise ModelFileError(f"{what}: the CLIP vision model has no projection (visual_projection.weight); "
                             "image embeddings cannot be computed")
    config = vision_config({k: tuple(v.shape) for k, v in canonical.items()})
    model = on_meta(lambda: CLIPVisionModelWithProjection(config))
    return ClipVision(assign_weights(model, canonical, dtype=dtype, what=what))


def load_clip_vision(path: str | Path) -> ClipVision:
    """A CLIP vision model from a clip_vision file."""
    return clip_vision_from_state_dict(load_state_dict(path), str(path))


UNCLIP_VISION_PREFIX = "embedder.model."  # unCLIP checkpoints embed an OpenCLIP `visual.*` tower here


def _squaredcos_alphas_cumprod(steps: int = 1000) -> torch.Tensor:
    """ᾱ of the "squaredcos_cap_v2" schedule: ᾱ(t) = cos²((t + 0.008)/1.008 · π/2), betas capped at 0.999."""
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), 0.999) for i in range(steps)]
    return torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), dim=0).float()


def timestep_embedding(level: int, width: int) -> torch.Tensor:
    """Sinusoidal embedding `[1,width]` of a noise level: cosines then sines, periods up to 10000."""
    half = width // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = float(level) * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


NOISE_LEVELS = 1000


def noise_augment(embeds: torch.Tensor, augmentation: float,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(noised embeds, noise-level embedding): the embeds diffused to level round(999·augmentation)."""
    level = round((NOISE_LEVELS - 1) * augmentation)
    alpha = _squaredcos_alphas_cumprod(NOISE_LEVELS)[level]
    noise = torch.randn(embeds.shape, generator=generator)
    noised = alpha.sqrt() * embeds + (1 - alpha).sqrt() * noise
    return noised, timestep_embedding(level, embeds.shape[-1]).expand(embeds.shape[0], -1)


def unclip_pooled(unclip_conditioning: list[dict], width: int, seed: int | None = None) -> torch.Tensor:
    """The `[1,width]` vector that replaces the pooled text of SDXL (revision): the noised embeddings."""
    return unclip_adm(unclip_conditioning, width, seed, merge_augmentation=0.0)[:, :width]


def unclip_adm(unclip_conditioning: list[dict], width: int, seed: int | None = None,
               merge_augmentation: float = 0.05) -> torch.Tensor:
    """`[1, 2·width]`: noised image embeddings ⊕ their noise-level embedding, from `unclip_conditioning`.

    Each image embedding is noise-augmented and weighted by its strength; several are summed and augmented again
    at `merge_augmentation` (SD2.1 unCLIP 0.05, SDXL revision 0). As in ComfyUI, every image draws its noise from a
    generator freshly seeded with the sampler seed − 10 (0 when unknown), and the merge draws the next noise from the
    last image's generator (ComfyUI's draw from the global generator just seeded, on the CPU). The embeddings are
    used as they are (mean 0, std 1): ComfyUI never loads a checkpoint's `noise_augmentor.data_mean`/`data_std`.
    """
    seed = ((seed if seed is not None else 10) - 10) % 2 ** 63
    adm = []
    generator = None
    for entry in unclip_conditioning:
        for embeds in entry["clip_vision_output"].image_embeds.float():
            embeds = embeds.reshape(1, -1)
            if embeds.shape[-1] != width:
                raise ValueError(f"unCLIPConditioning: the CLIP vision model gives {embeds.shape[-1]}-wide image "
                                 f"embeddings, this model needs {width} (SDXL revision uses clip_vision_g)")
            generator = torch.Generator().manual_seed(seed)
            noised, level = noise_augment(embeds, entry["noise_augmentation"], generator)
            adm.append(torch.cat([noised, level], dim=1) * entry["strength"])
    if len(adm) > 1:
        summed = torch.stack(adm).sum(0)[:, :width]
        return torch.cat(noise_augment(summed, merge_augmentation, generator), dim=1)
    return adm[0]
