"""Training batches from the shapes domain: pictures as [-1, 1] tensors and captions with dropout, indexed by step."""

from __future__ import annotations

import numpy as np
import torch

from tools.toymodel import domain


def pictures(samples: list[domain.Sample]) -> torch.Tensor:
    """[B, 3, H, W] float32 in -1..1, the VAE's input range."""
    stacked = np.stack([s.image for s in samples]).astype(np.float32) / 127.5 - 1
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


def step_batch(seed: int, step: int, batch_size: int, config: domain.DomainConfig) -> list[domain.Sample]:
    """The samples of one training step: every step sees fresh pictures, and a resumed run sees the same ones."""
    return domain.batch(seed, step * batch_size, batch_size, config)


def captions_with_dropout(samples: list[domain.Sample], dropout: float, generator: torch.Generator) -> list[str]:
    """Captions, each replaced by "" with probability `dropout`: the unconditional branch that CFG needs."""
    drop = torch.rand(len(samples), generator=generator) < dropout
    return ["" if dropped else s.caption for s, dropped in zip(samples, drop.tolist())]


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one step (noise, timesteps, dropout), independent of how the run was resumed."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def captioned_step(seed: int, step: int, batch_size: int, config: domain.DomainConfig, dropout: float, tokenizer):
    """(samples, the step's generator, tokens of the captions after dropout): what every diffusion loss step draws,
    in the order that keeps runs repeatable."""
    samples = step_batch(seed, step, batch_size, config)
    generator = step_generator(seed, step)
    return samples, generator, tokenizer(captions_with_dropout(samples, dropout, generator))
