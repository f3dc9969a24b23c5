"""Training batches from the shapes domain: pictures as [-1, 1] tensors and captions with dropout, indexed by step."""

from __future__ import annotations

from dataclasses import replace

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


def captions_with_dropout(samples: list[domain.Sample], dropout: float, generator: torch.Generator,
                          captions: list[str] | None = None) -> list[str]:
    """Captions (the samples' own unless given), each replaced by "" with probability `dropout`: the
    unconditional branch that CFG needs."""
    captions = [s.caption for s in samples] if captions is None else captions
    drop = torch.rand(len(samples), generator=generator) < dropout
    return ["" if dropped else caption for caption, dropped in zip(captions, drop.tolist())]


def noisy_captions(samples: list[domain.Sample], rate: float, generator: torch.Generator,
                   config: domain.DomainConfig) -> list[str]:
    """Captions in which the colour, background and shape words are each, with probability `rate`, another
    value of the domain (the caption's colour and background stay different names), like the loose captions of
    real training data. The conditional model then learns that a caption is only mostly right, which is what
    makes classifier-free guidance matter: without it at most about (1 - rate)^3 of the pictures match their
    prompt (fewer, measured: it also paints in-between colours)."""
    wrong = (torch.rand(len(samples), 3, generator=generator) < rate).tolist()
    picks = torch.rand(len(samples), 3, generator=generator).tolist()
    captions = []
    for sample, flags, pick in zip(samples, wrong, picks):
        spec = sample.spec
        colour, background, shape = spec.colour, spec.background, spec.shape
        if flags[2]:
            shape = _other(config.shapes, shape, pick[2])
        if flags[1]:
            background = _other(config.backgrounds, background, pick[1], avoid=colour)
        if flags[0]:
            colour = _other(config.colours, colour, pick[0], avoid=background)
        captions.append(replace(spec, colour=colour, background=background, shape=shape).caption)
    return captions


def _other(names: tuple[str, ...], current: str, pick: float, avoid: str | None = None) -> str:
    """The name at `pick` (0..1) among `names` other than `current` and `avoid`; `current` if there is none."""
    choices = [n for n in names if n not in (current, avoid)]
    return choices[min(int(pick * len(choices)), len(choices) - 1)] if choices else current


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one step (noise, timesteps, dropout), independent of how the run was resumed."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def captioned_step(seed: int, step: int, batch_size: int, config: domain.DomainConfig, dropout: float, tokenizer,
                   caption_noise: float = 0.0):
    """(samples, the step's generator, tokens of the captions after noise and dropout): what every diffusion loss
    step draws, in the order that keeps runs repeatable (no noise draws at all when `caption_noise` is 0, so
    runs without it draw exactly as before it existed)."""
    samples = step_batch(seed, step, batch_size, config)
    generator = step_generator(seed, step)
    captions = noisy_captions(samples, caption_noise, generator, config) if caption_noise > 0 else None
    return samples, generator, tokenizer(captions_with_dropout(samples, dropout, generator, captions))
