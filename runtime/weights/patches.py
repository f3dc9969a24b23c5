"""Weight patches (LoRA deltas) applied to shared weights for one wrapper at a time, never leaking to clones.

A patch is `(parameter name, strength, delta)` where `delta(weight) -> Tensor` returns the change at strength 1.
Clones share the network; before a network runs, `apply_patches` restores the originals if another patch set is in
place and applies this wrapper's set. Applying is skipped when the same set is already in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WeightPatch:
    key: str
    strength: float
    delta: Callable[[torch.Tensor], torch.Tensor]


_BACKUP = "_diffloom_original_weights"
_APPLIED = "_diffloom_applied_patches"


@torch.no_grad()
def apply_patches(network: torch.nn.Module, patches: tuple[WeightPatch, ...]) -> None:
    """Make `network`'s weights equal original + Σ strength·delta for exactly `patches`."""
    if getattr(network, _APPLIED, ()) == patches:
        return
    restore_weights(network)
    if not patches:
        return
    params = dict(network.named_parameters())
    backup: dict[str, torch.Tensor] = {}
    for patch in patches:
        if patch.key not in params:
            raise KeyError(f"weight patch names {patch.key!r}, which this network does not have")
        param = params[patch.key]
        # the sum is a new tensor, so the original stays untouched in `backup` without a copy
        backup.setdefault(patch.key, param.data)
        delta = patch.delta(backup[patch.key].float()).to(param.device, torch.float32)
        param.data = (param.data.float() + patch.strength * delta).to(param.dtype)
    setattr(network, _BACKUP, backup)
    setattr(network, _APPLIED, patches)


@torch.no_grad()
def restore_weights(network: torch.nn.Module) -> None:
    """Put back the unpatched weights (moved to wherever the network is now)."""
    backup = getattr(network, _BACKUP, None)
    if backup:
        params = dict(network.named_parameters())
        for key, original in backup.items():
            params[key].data = original.to(params[key].device)
    setattr(network, _BACKUP, {})
    setattr(network, _APPLIED, ())
