"""What the ControlNet and LoRA trainers share: the frozen base read through diffloom's loader, data, the loop."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from tools.toymodel import data, domain, models
from tools.toymodel.train import learning_rate_factor
from tools.toymodel.train_unet import scaled_latents

CONCEPTS = ("huge", "star", "striped")


@dataclass
class Base:
    """The toy checkpoint's networks (diffusers UNet and VAE, transformers text encoder), all frozen."""

    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    scheduler: object
    tokenizer: models.CaptionTokenizer

    def latents(self, samples: list[domain.Sample]) -> torch.Tensor:
        return scaled_latents(self.vae, data.pictures(samples))


def load_base(path: str | Path) -> Base:
    """The base checkpoint as CheckpointLoaderSimple reads it, in float32 with every weight frozen."""
    from tools.toymodel.checkpoint import load_for_sampling

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--base: no checkpoint at {path} (train it first: python -m tools.toymodel.train)")
    model, clip, vae = load_for_sampling(path)
    networks = [n.float().eval().requires_grad_(False)
                for n in (model.unet, vae.autoencoder, clip.slots[0].model)]
    return Base(*networks, models.build_scheduler(), models.CaptionTokenizer())


def concept_domain(concept: str | None, size: int = 32) -> domain.DomainConfig:
    """The base domain, or with `concept` in half the pictures ("huge", "star": half the shapes are stars;
    "striped")."""
    if concept is None:
        return domain.DomainConfig(size=size)
    if concept == "star":
        # the base shapes stay in the batches so the LoRA does not forget them; repeating the star weights it
        return domain.DomainConfig(size=size, shapes=domain.BASE_SHAPES + domain.CONCEPT_SHAPES * 3)
    if concept == "huge":
        return domain.DomainConfig(size=size, huge_prob=0.5)
    if concept == "striped":
        return domain.DomainConfig(size=size, striped_prob=0.5)
    raise ValueError(f"concept must be one of {CONCEPTS}, got {concept!r}")


def run_loop(params: list[torch.nn.Parameter], loss_fn, steps: int, lr: float, warmup: int, log=print,
             log_every: int = 25, grad_clip: float = 1.0, tag: str = "train") -> list[float]:
    """AdamW with the base recipe's warm-up + cosine schedule; returns the loss of every step."""
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * learning_rate_factor(step, steps, warmup)
        loss = loss_fn(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        losses.append(loss.item())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            recent = losses[-log_every:]
            log(f"[{tag}] step {step + 1} loss {sum(recent) / len(recent):.5f} "
                f"({(time.perf_counter() - started) / (step + 1):.3f} s/step)")
    return losses


def common_arguments(parser: argparse.ArgumentParser, steps: int, batch: int, lr: float) -> None:
    parser.add_argument("--base", type=Path, default=Path("models/checkpoints/toy_shapes.safetensors"),
                        help="the trained toy base checkpoint (frozen)")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a shared CPU)")
