"""Sample a toy checkpoint through diffloom's loader and samplers and score the pictures with the evaluator.

    .venv/bin/python -m tools.toymodel.quality models/checkpoints/toy_shapes.safetensors --count 50 --cfg 7 1

A quick check while training; the issue's quality tests run the shipped workflow files through the executor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from tools.toymodel import domain, evaluate
from tools.toymodel.checkpoint import load_for_sampling

ATTRIBUTES = ("colour", "background", "shape", "position")


def prompt_specs(seed: int, count: int, position_prob: float = 0.5) -> list[domain.ShapeSpec]:
    """`count` varied prompts (as specs) of the base domain."""
    rng = np.random.default_rng([seed, 777])
    config = domain.DomainConfig(position_prob=position_prob)
    return [domain.sample_spec(rng, config) for _ in range(count)]


def generate(model, clip, vae, caption: str, seed: int, cfg: float = 7.0, steps: int = 20, sampler: str = "euler",
             scheduler: str = "normal", size: int = 32) -> np.ndarray:
    """One txt2img picture ([H, W, 3] uint8) the way KSampler makes it, with an empty negative prompt."""
    return generate_batch(model, clip, vae, [caption], seed, cfg, steps, sampler, scheduler, size)[0]


def generate_batch(model, clip, vae, captions: list[str], seed: int, cfg: float = 7.0, steps: int = 20,
                   sampler: str = "euler", scheduler: str = "normal", size: int = 32) -> np.ndarray:
    """`generate` for many captions in one KSampler batch ([N, H, W, 3] uint8); the seed's noise covers the batch."""
    from runtime.sampling.ksampler import ksampler_from_seed

    cond = torch.cat([clip.encode(caption)[0][0] for caption in captions])
    empty = clip.encode("")[0][0].expand(len(captions), -1, -1)
    side = size // vae.downscale_ratio
    latent = {"samples": torch.zeros(len(captions), model.latent_format.channels, side, side)}
    out = ksampler_from_seed(model, seed, steps, cfg, sampler, scheduler, [[cond, {}]], [[empty, {}]], latent)
    return (vae.decode(out["samples"]).numpy() * 255).round().astype(np.uint8)


def score(checkpoint: str | Path, count: int = 50, cfg: float = 7.0, steps: int = 20, sampler: str = "euler",
          scheduler: str = "normal", seed: int = 0) -> dict:
    """Share of prompts whose picture has each attribute right, and all of colour, background and shape at once."""
    model, clip, vae = load_for_sampling(checkpoint)
    return score_pictures(lambda caption, index: generate(model, clip, vae, caption, seed + index, cfg, steps,
                                                          sampler, scheduler), count, seed)


def score_batch(model, clip, vae, count: int = 50, seed: int = 0, **settings) -> dict:
    """`score` with all prompts sampled as one batch (much faster on a CPU; the sampler table uses it)."""
    pictures = generate_batch(model, clip, vae, [spec.caption for spec in prompt_specs(seed, count)], seed,
                              **settings)
    return score_pictures(lambda caption, index: pictures[index], count, seed)


def score_pictures(picture_for: Callable[[str, int], np.ndarray], count: int = 50, seed: int = 0) -> dict:
    """`score` for any picture maker `(caption, prompt index) -> picture` (the quality tests run workflow files)."""
    right: dict[str, list[bool]] = {a: [] for a in (*ATTRIBUTES, "all")}
    errors = []
    for index, spec in enumerate(prompt_specs(seed, count)):
        picture = picture_for(spec.caption, index)
        judgement = evaluate.judge(picture)
        verdict = judgement.matches(spec)
        for attribute in ATTRIBUTES:
            if attribute in verdict:
                right[attribute].append(verdict[attribute])
        right["all"].append(verdict["colour"] and verdict["background"] and verdict["shape"])
        errors.append(colour_error(picture, judgement.mask, spec.colour))
    scores = {a: float(np.mean(v)) if v else None for a, v in right.items()}
    found = [e for e in errors if e is not None]
    scores["colour_error"] = float(np.mean(found)) if found else None
    return scores


def colour_error(picture: np.ndarray, mask: np.ndarray, colour: str) -> float | None:
    """RGB distance (0..441) from the shape's median painted colour to the palette colour the prompt names; a
    finer measure than right/wrong (None when no shape was found)."""
    if mask.sum() < 3:
        return None
    painted = np.median(np.asarray(picture, dtype=np.float32)[mask][:, :3], axis=0)
    return float(np.linalg.norm(painted - np.asarray(domain.SHAPE_COLOURS[colour], dtype=np.float32)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.toymodel.quality", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--cfg", type=float, nargs="+", default=[7.0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sampler", default="euler")
    parser.add_argument("--scheduler", default="normal")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for cfg in args.cfg:
        result = score(args.checkpoint, args.count, cfg, args.steps, args.sampler, args.scheduler)
        print(json.dumps({"cfg": cfg, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
