"""LoRA files (spec §9.4): parse kohya, diffusers/PEFT and LyCORIS (LoCon, LoHa, LoKr, DoRA) weights into patches.

A parsed file is a set of per-module deltas, cached by path, size and modification time, so loading the same LoRA
again (another node, another strength, another branch) reads nothing. Patches are added to clones of MODEL and
CLIP (`runtime.weights.patches`): the shared weights are patched just before a network runs and restored when a
wrapper without those patches runs, so one branch's LoRA never reaches another branch.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from runtime.settings import on_release
from runtime.weights.files import ModelFileError, load_state_dict
from runtime.lora.keys import clip_names, unet_names
from runtime.weights.patches import WeightPatch

log = logging.getLogger(__name__)
CACHE_SIZE = 16  # parsed files kept; each holds only views of its memory-mapped file

# key suffix → role, longest first so `.lora_B.weight` is not read as `.lora_B`
ROLES = sorted({
    ".lora_up.weight": "up", ".lora_down.weight": "down", ".lora_mid.weight": "mid",
    "_lora.up.weight": "up", "_lora.down.weight": "down",
    ".lora_B.weight": "up", ".lora_A.weight": "down", ".lora.up.weight": "up", ".lora.down.weight": "down",
    ".lora_B": "up", ".lora_A": "down", ".lora_B.default.weight": "up", ".lora_A.default.weight": "down",
    ".lora_linear_layer.up.weight": "up", ".lora_linear_layer.down.weight": "down",
    ".alpha": "alpha", ".dora_scale": "dora_scale",
    ".hada_w1_a": "hada_w1_a", ".hada_w1_b": "hada_w1_b", ".hada_w2_a": "hada_w2_a", ".hada_w2_b": "hada_w2_b",
    ".hada_t1": "hada_t1", ".hada_t2": "hada_t2",
    ".lokr_w1": "lokr_w1", ".lokr_w1_a": "lokr_w1_a", ".lokr_w1_b": "lokr_w1_b", ".lokr_w2": "lokr_w2",
    ".lokr_w2_a": "lokr_w2_a", ".lokr_w2_b": "lokr_w2_b", ".lokr_t2": "lokr_t2",
    ".diff": "diff", ".diff_b": "diff_b",
}.items(), key=lambda item: -len(item[0]))


class LoraError(ModelFileError):
    """A LoRA file that does not fit the model it is applied to."""


def _split(key: str) -> tuple[str, str] | None:
    for suffix, role in ROLES:
        if key.endswith(suffix):
            return key[:-len(suffix)], role
    return None


def _on(tensor: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return tensor.to(weight.device, torch.float32)


def _scale(alpha: torch.Tensor | None, rank: int) -> float:
    return 1.0 if alpha is None else float(alpha) / rank


@dataclass(eq=False)  # compared by identity: the same cached delta means the same patch
class Delta:
    """ΔW of one module at strength 1, computed on the weight's device when the patch is applied."""

    parts: dict[str, torch.Tensor]
    param: str = "weight"

    def numel(self) -> int:
        """How many values ΔW has (checked against the target weight when the LoRA is applied)."""
        raise NotImplementedError

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        return self.compute(weight).reshape(weight.shape)

    def compute(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class LoraDelta(Delta):
    """LoRA / LoCon: up · (mid) · down, times alpha / rank."""

    def numel(self) -> int:
        p = self.parts
        return p["up"].shape[0] * p["down"][0].numel() * (p["mid"][0, 0].numel() if "mid" in p else 1)

    def compute(self, weight):
        p = self.parts
        up, down = _on(p["up"], weight).flatten(1), _on(p["down"], weight).flatten(1)
        if "mid" in p:  # LoCon Tucker: 1×1 down, k×k mid, 1×1 up
            mid = _on(p["mid"], weight)
            delta = torch.einsum("ijkl,jr,pi->prkl", mid, down, up)
            rank = mid.shape[0]
        else:
            delta = up @ down
            rank = down.shape[0]
        return delta * _scale(p.get("alpha"), rank)


def _tucker_or_plain(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
    if t is None:
        return a.flatten(1) @ b.flatten(1)
    return torch.einsum("ijkl,jr,ip->prkl", t, b.flatten(1), a.flatten(1))


class LohaDelta(Delta):
    """LyCORIS LoHa: (w1_a · w1_b) ⊙ (w2_a · w2_b), times alpha / rank."""

    def numel(self) -> int:
        p = self.parts
        if "hada_t1" in p:
            return p["hada_w1_a"].shape[1] * p["hada_w1_b"].shape[1] * p["hada_t1"][0, 0].numel()
        return p["hada_w1_a"].shape[0] * p["hada_w1_b"][0].numel()

    def compute(self, weight):
        p = {k: _on(v, weight) for k, v in self.parts.items()}
        first = _tucker_or_plain(p["hada_w1_a"], p["hada_w1_b"], p.get("hada_t1"))
        second = _tucker_or_plain(p["hada_w2_a"], p["hada_w2_b"], p.get("hada_t2"))
        return first * second * _scale(self.parts.get("alpha"), self.parts["hada_w1_b"].shape[0])


class LokrDelta(Delta):
    """LyCORIS LoKr: w1 ⊗ w2 (each whole or a low-rank product), times alpha / rank when a product is used."""

    def numel(self) -> int:
        return self._factor(1, meta=True).numel() * self._factor(2, meta=True).numel()

    def _factor(self, i: int, weight: torch.Tensor | None = None, meta: bool = False) -> torch.Tensor:
        p = self.parts
        get = (lambda k: torch.empty(p[k].shape, device="meta")) if meta else (lambda k: _on(p[k], weight))
        if f"lokr_w{i}" in p:
            return get(f"lokr_w{i}")
        t = get(f"lokr_t{i}") if f"lokr_t{i}" in p else None
        return _tucker_or_plain(get(f"lokr_w{i}_a"), get(f"lokr_w{i}_b"), t)

    def compute(self, weight):
        p = self.parts
        first, second = self._factor(1, weight), self._factor(2, weight)
        if second.dim() == 4:
            first = first[:, :, None, None]
        rank = p["lokr_w2_b"].shape[0] if "lokr_w2_b" in p else p["lokr_w1_b"].shape[0] if "lokr_w1_b" in p else None
        scale = _scale(p.get("alpha"), rank) if rank else 1.0
        return torch.kron(first, second) * scale


class FullDelta(Delta):
    """A stored full difference (`.diff` for the weight, `.diff_b` for the bias)."""

    def numel(self) -> int:
        return self.parts["diff"].numel()

    def compute(self, weight):
        return _on(self.parts["diff"], weight)


class DoraDelta(Delta):
    """DoRA: W' = dora_scale · (W + ΔW) / ‖W + ΔW‖, the norm taken along the axis `dora_scale` does not span;
    the patch is W' − W, so strength s gives W + s·(W' − W)."""

    def __init__(self, inner: Delta, scale: torch.Tensor):
        super().__init__(inner.parts)
        self.inner, self.scale = inner, scale

    def numel(self) -> int:
        return self.inner.numel()

    def compute(self, weight):
        shape = weight.shape
        combined = weight + self.inner(weight)
        scale = _on(self.scale, weight)
        if scale.shape[0] == shape[0] and scale.numel() == shape[0]:  # one magnitude per output
            norm = combined.reshape(shape[0], -1).norm(dim=1).reshape(shape[0], *[1] * (len(shape) - 1))
        else:  # one magnitude per input (kohya / LyCORIS files)
            norm = combined.transpose(0, 1).reshape(shape[1], -1).norm(dim=1)
            norm = norm.reshape(shape[1], *[1] * (len(shape) - 1)).transpose(0, 1)
        return combined * (scale.reshape(norm.shape) / (norm + torch.finfo(torch.float32).eps)) - weight


def _deltas_of(base: str, parts: dict[str, torch.Tensor]) -> list[Delta]:
    """The deltas one module's tensors describe; an empty list if they form no known layout."""
    found: list[Delta] = []
    if "up" in parts and "down" in parts:
        found.append(LoraDelta(parts))
    elif all(f"hada_w{i}_{s}" in parts for i in (1, 2) for s in "ab"):
        found.append(LohaDelta(parts))
    elif ("lokr_w1" in parts or "lokr_w1_a" in parts) and ("lokr_w2" in parts or "lokr_w2_a" in parts):
        found.append(LokrDelta(parts))
    elif "diff" in parts:
        found.append(FullDelta(parts))
    if found and "dora_scale" in parts:
        found[0] = DoraDelta(found[0], parts["dora_scale"])
    if "diff_b" in parts:
        found.append(FullDelta({"diff": parts["diff_b"]}, param="bias"))
    return found


@dataclass
class LoraFile:
    """A parsed LoRA: deltas by module name as the file spells it, and keys that form no known layout."""

    path: Path
    deltas: dict[str, list[Delta]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    @property
    def module_count(self) -> int:
        return len(self.deltas)


_files: OrderedDict[tuple, LoraFile] = OrderedDict()
on_release(_files.clear)  # runtime.release() lets go of the parsed files


def parse_lora(state_dict: dict[str, torch.Tensor], path: Path) -> LoraFile:
    groups: dict[str, dict[str, torch.Tensor]] = {}
    unknown = []
    for key, value in state_dict.items():
        split = _split(key)
        if split is None:
            unknown.append(key)
            continue
        base, role = split
        groups.setdefault(base, {})[role] = value
    lora = LoraFile(path)
    for base, parts in groups.items():
        deltas = _deltas_of(base, parts)
        if deltas:
            lora.deltas[base] = deltas
        else:
            unknown.extend(f"{base}*{role}" for role in parts)
    return lora


def load_lora(path: str | Path) -> LoraFile:
    """The parsed LoRA at `path`; a second call for an unchanged file returns the cached parse."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise ModelFileError(f"{path}: no such file") from error
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _files:
        _files.move_to_end(key)
        return _files[key]
    lora = parse_lora(load_state_dict(path), path)
    if not lora.deltas:
        raise LoraError(f"{path}: not a LoRA: none of its {len(lora.unknown)} tensors is a LoRA, LoCon, LoHa, LoKr "
                        "or diff weight (expected keys like '<module>.lora_up.weight' / '.lora_A.weight' / "
                        "'.hada_w1_a')")
    _files[key] = lora
    while len(_files) > CACHE_SIZE:
        _files.popitem(last=False)
    return lora


def _patches_for(lora: LoraFile, names: dict[str, str], network, strength: float, taken: set,
                 what: str) -> list[WeightPatch]:
    """Weight patches for the modules of `lora` that `names` maps into `network`; checks element counts."""
    params = dict(network.named_parameters())
    patches = []
    for base, deltas in lora.deltas.items():
        module = names.get(base)
        if module is None:
            continue
        taken.add(base)
        if strength == 0:
            continue  # matched (so the LoRA fits) but changes nothing
        for delta in deltas:
            param = params.get(f"{module}.{delta.param}")
            if param is None:
                raise LoraError(f"{lora.path}: module {base!r} has no {delta.param} in the {what}")
            if delta.numel() != param.numel():
                raise LoraError(f"{lora.path}: module {base!r} gives a {delta.param} change of {delta.numel()} "
                                f"values but the {what} weight {module}.{delta.param} has shape "
                                f"{tuple(param.shape)}: the LoRA is for a different model type")
            patches.append(WeightPatch(f"{module}.{delta.param}", float(strength), delta))
    return patches


def apply_lora(lora: LoraFile, model=None, clip=None, strength_model: float = 1.0, strength_clip: float = 1.0):
    """(patched MODEL clone, patched CLIP clone); inputs given as None stay None. Raises if nothing matches."""
    taken: set[str] = set()
    new_model = new_clip = None
    if model is not None:
        new_model = model.clone()
        new_model.add_patches(_patches_for(lora, unet_names(model.unet), model.unet, strength_model, taken,
                                           f"{model.family} UNet"))
    if clip is not None:
        new_clip = clip.clone()
        for slot in clip.slots:
            names = clip_names(slot.model, clip.family, slot.name)
            new_clip.add_patches(slot.name, _patches_for(lora, names, slot.model, strength_clip, taken,
                                                         f"{clip.family} text encoder {slot.name}"))
    if not taken:
        targets = " or ".join(t for t, v in (("MODEL", model), ("CLIP", clip)) if v is not None)
        example = next(iter(lora.deltas))
        raise LoraError(f"{lora.path}: none of its {lora.module_count} LoRA modules (e.g. {example!r}) names a "
                        f"weight of the {targets} it is applied to ({_family_of(model, clip)}); is the LoRA for "
                        "another model type?")
    for base in lora.deltas:
        if base not in taken:
            log.warning("lora key not loaded: %s", base)
    for key in lora.unknown:
        log.warning("lora key not loaded: %s", key)
    return new_model, new_clip


def _family_of(model, clip) -> str:
    return (model or clip).family
