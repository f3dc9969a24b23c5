"""How well a trained VAE round-trips the domain, judged by the evaluator; run on a training state.pt."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from tools.toymodel import data, domain, evaluate, models


@torch.no_grad()
def roundtrip(vae, samples: list[domain.Sample]) -> np.ndarray:
    """Encode (posterior mean) and decode; [B, H, W, 3] uint8."""
    latents = vae.encode(data.pictures(samples)).latent_dist.mean
    decoded = vae.decode(latents).sample.clamp(-1, 1)
    return ((decoded.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8)


def roundtrip_report(vae, count: int = 500, seed: int = 12345, size: int = 32) -> dict:
    """Evaluator accuracy per attribute on round-tripped pictures, mean IoU and the mean absolute pixel error."""
    samples = domain.batch(seed, 0, count, domain.DomainConfig(size=size, position_prob=0.7))
    decoded = np.concatenate([roundtrip(vae.eval(), samples[i:i + 100]) for i in range(0, count, 100)])
    right: dict[str, list[bool]] = {}
    ious = []
    for sample, picture in zip(samples, decoded):
        judgement = evaluate.judge(picture)
        for attribute, ok in judgement.matches(sample.spec).items():
            right.setdefault(attribute, []).append(ok)
        ious.append((judgement.mask & sample.mask).sum() / max(1, (judgement.mask | sample.mask).sum()))
    error = np.abs(decoded.astype(np.float32) - np.stack([s.image for s in samples])).mean()
    return {**{k: float(np.mean(v)) for k, v in right.items()}, "iou": float(np.mean(ious)),
            "mean_abs_error_255": float(error)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.toymodel.vae_check", description=__doc__)
    parser.add_argument("state", help="a training state.pt (from --work-dir)")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    vae = models.build_vae(0)
    vae.load_state_dict(torch.load(args.state, weights_only=True)["vae"])
    print(json.dumps(roundtrip_report(vae, args.count), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
