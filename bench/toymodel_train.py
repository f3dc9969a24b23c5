"""Toy-model training cost on this machine: seconds per VAE and UNet step, and the whole recipe's estimated time.

Reference measured in the same run: a UNet step with the text encoder frozen; printed as ratios against it are the
trained-text-encoder step, the VAE step and, with --two-threads, a two-thread step (the issue's prototype found one
thread 3x faster than two on this shared CPU; expect minutes for that case under load).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from tools.toymodel.recipe import Recipe  # noqa: E402
from tools.toymodel.train import Trainer  # noqa: E402

STEPS = 4  # timed steps per case, after one warm-up step


def seconds_per_step(stage: str, threads: int, **recipe) -> float:
    """Run one stage of a throw-away trainer; the mean time of its steps after the first."""
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as work:  # the last step writes a log line there
        trainer = Trainer(Recipe(save_every=10**9, log_every=10**9, warmup_steps=1, **recipe),
                          Path(work) / "unused.safetensors", Path(work), log=lambda _: None)
        trainer.train_vae() if stage == "vae" else trainer.train_unet()
    times = trainer.step_seconds[stage][1:]
    return sum(times) / len(times)


def main() -> int:
    recipe = Recipe()
    frozen = seconds_per_step("unet", 1, unet_steps=STEPS + 1, text_encoder="frozen")
    trained = seconds_per_step("unet", 1, unet_steps=STEPS + 1, text_encoder="train")
    vae = seconds_per_step("vae", 1, vae_steps=STEPS + 1)
    total = vae * recipe.vae_steps + trained * (recipe.unet_steps + recipe.noisy_steps)  # stage 3 steps cost the same
    print(f"reference: UNet step, batch {recipe.unet_batch}, text encoder frozen, 1 thread: {frozen:.3f} s")
    print(f"UNet step, text encoder trained, 1 thread:  {trained:.3f} s  ({trained / frozen:.2f}x reference)")
    if "--two-threads" in sys.argv:
        two = seconds_per_step("unet", 2, unet_steps=STEPS + 1, text_encoder="train")
        print(f"UNet step, text encoder trained, 2 threads: {two:.3f} s  ({two / frozen:.2f}x reference)")
    print(f"VAE step, batch {recipe.vae_batch}, 1 thread: {vae:.3f} s  ({vae / frozen:.2f}x reference)")
    print(f"estimated default recipe ({recipe.vae_steps} VAE + {recipe.unet_steps} UNet + {recipe.noisy_steps} "
          f"loose-caption steps): {total / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
