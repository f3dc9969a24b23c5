"""An exponential moving average of the trainable weights: the checkpoint ships the average, which samples better."""

from __future__ import annotations

import copy

import torch


class ExponentialAverage:
    """Shadow copies of the trainable parameters of named modules, updated after every optimiser step."""

    def __init__(self, modules: dict[str, torch.nn.Module], decay: float):
        self.decay = decay
        self.shadow = {f"{name}.{key}": p.detach().clone() for name, module in modules.items()
                       for key, p in module.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, modules: dict[str, torch.nn.Module], step: int) -> None:
        # a shorter memory at the start, so the average is not dominated by the random initialisation
        decay = min(self.decay, (1 + step) / (10 + step))
        for name, module in modules.items():
            for key, p in module.named_parameters():
                if f"{name}.{key}" in self.shadow:
                    self.shadow[f"{name}.{key}"].lerp_(p.detach(), 1 - decay)

    @torch.no_grad()
    def averaged(self, name: str, module: torch.nn.Module) -> torch.nn.Module:
        """A copy of `module` holding the averaged weights (parameters not averaged keep their values)."""
        result = copy.deepcopy(module)
        for key, p in result.named_parameters():
            if f"{name}.{key}" in self.shadow:
                p.copy_(self.shadow[f"{name}.{key}"])
        return result

    def state_dict(self) -> dict:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        if set(state["shadow"]) != set(self.shadow):
            raise ValueError("ExponentialAverage: the saved average covers other parameters than this run trains")
        self.decay, self.shadow = state["decay"], {k: v.clone() for k, v in state["shadow"].items()}
