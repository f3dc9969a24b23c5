"""The model-family registry: every module of this package that defines `FAMILY`, plus families `register`ed from
elsewhere (a test, a plugin), and detection of a state dict's family from its keys and shapes.

Adding a family is adding a module here (see `runtime/family.py` for what it declares); nothing else in the
runtime names families.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from dataclasses import dataclass, field

from runtime.family import Family, UnknownModelError
from runtime.weights.shapes import shapes_of

__all__ = ["Detection", "Family", "TextEncoderSource", "UnknownModelError", "detect_checkpoint", "diffusion_prefix",
           "for_clip_type", "get", "known", "label", "latent_format_for", "match", "register", "unregister"]

# where single files keep their diffusion model (spec §9.3): ComfyUI's own saves, LDM/SGM checkpoints, others
DIFFUSION_PREFIXES = ("model.diffusion_model.", "model.model.", "net.")

_families: dict[str, Family] = {}
_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        family = getattr(importlib.import_module(f"{__name__}.{info.name}"), "FAMILY", None)
        if family is not None:
            register(family)


def register(family: Family) -> Family:
    """Add a family (a module's `FAMILY`); its name must be new."""
    _discover()
    if _families.get(family.name, family) is not family:
        raise ValueError(f"a model family named {family.name!r} is already registered")
    _families[family.name] = family
    return family


def unregister(name: str) -> None:
    _families.pop(name, None)


def known() -> list[Family]:
    """Every registered family, built-in ones first (in module-name order)."""
    _discover()
    return list(_families.values())


def get(name: str) -> Family:
    _discover()
    try:
        return _families[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; known: {', '.join(_families)}") from None


def label(name: str) -> str:
    """A family's name for people ("SDXL"), or the name itself when no family has it."""
    _discover()
    return _families[name].label if name in _families else name


def latent_format_for(name: str, channels: int | None = None, downscale: int = 8):
    """The latent format of family `name` for a network with `channels` latent channels (default: its own)."""
    latent_format = get(name).latent_format
    return latent_format.sized(channels or latent_format.channels, downscale)


def for_clip_type(clip_type: str, slots) -> Family | None:
    """The family whose text encoders are exactly `slots` among those that `CLIPLoader`'s `clip_type` covers."""
    wanted = set(slots)
    for family in known():
        if clip_type in family.clip_types and {e.name for e in family.text_encoders} == wanted:
            return family
    return None


def clip_types() -> list[str]:
    return sorted({t for family in known() for t in family.clip_types})


@dataclass
class TextEncoderSource:
    slot: str  # the family's text-encoder slot ("l", "h", "g")
    prefix: str  # where its keys start in the file
    layout: str  # "hf" (OpenAI/transformers names) or "openclip"


@dataclass
class Detection:
    """What a single file holds: its family, the diffusion model's prefix and config (from shapes), its prediction
    type, and where its VAE and text encoders are (None / [] when the file lacks them)."""

    spec: Family
    unet_prefix: str
    unet_config: dict
    prediction_type: str
    vae_prefix: str | None = None
    text_encoders: list[TextEncoderSource] = field(default_factory=list)

    @property
    def family(self) -> str:
        return self.spec.name

    @property
    def latent_scale(self) -> float:
        return self.spec.latent_format.scale_factor


def diffusion_prefix(keys) -> str:
    """Most frequent known diffusion-model prefix if it occurs more than 5 times, else none when a network's
    marker key is there unprefixed, else `model.` (spec §9.3)."""
    keys = list(keys)
    counts = Counter(p for key in keys for p in DIFFUSION_PREFIXES if key.startswith(p))
    if counts:
        prefix, count = counts.most_common(1)[0]
        if count > 5:
            return prefix
    markers = {family.network.marker for family in known()}
    if any(key in markers for key in keys):
        return ""
    return "model."


def match(shapes: dict, prefix: str) -> tuple[Family, dict]:
    """(family, network config) of the diffusion network under `prefix` in a shape table."""
    candidates = [f for f in known() if prefix + f.network.marker in shapes]
    if not candidates:
        expected = sorted({prefix + f.network.marker for f in known()})
        raise UnknownModelError(f"no UNet or other diffusion model found (expected one of {expected})")
    matches = [(f, config) for f in candidates if (config := f.match(shapes, prefix)) is not None]
    if not matches:
        found = candidates[0].network.describe(shapes, prefix)
        raise UnknownModelError(f"{found} fits none of the model families "
                                f"{', '.join(f.name for f in candidates)}")
    top = max(f.priority for f, _ in matches)
    best = [(f, config) for f, config in matches if f.priority == top]
    if len(best) > 1:
        raise UnknownModelError(f"the diffusion model fits several families ({', '.join(f.name for f, _ in best)}) "
                                "of equal priority; one of their rules must be narrowed")
    return best[0]


def detect_checkpoint(state_dict) -> Detection:
    """Detect a single file (checkpoint or diffusion model alone) from keys and shapes; raises UnknownModelError."""
    shapes = shapes_of(state_dict)
    prefix = diffusion_prefix(shapes)
    family, config = match(shapes, prefix)

    def present(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in shapes)

    sources = []
    for encoder in family.text_encoders:
        found = next(((p, layout) for p, layout in encoder.checkpoint_prefixes if present(p)), None)
        if found is not None:
            sources.append(TextEncoderSource(encoder.name, *found))
    return Detection(spec=family, unet_prefix=prefix, unet_config=config,
                     prediction_type=family.prediction_type(state_dict, prefix, config),
                     vae_prefix=family.vae_prefix if present(family.vae_prefix) else None, text_encoders=sources)
