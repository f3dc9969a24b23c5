"""Toy ControlNet and LoRA training cost on this machine, and the default commands' estimated time.

Reference measured in the same run: a base-model UNet step (text encoder frozen) at the add-ons' batch of 16; printed
as ratios against it are a ControlNet step, a LoRA step and a LoRA step that also adapts the text encoder. The base
is a fresh untrained one (the cost does not depend on the weights), so build/ is not needed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import torch  # noqa: E402

from toymodel_train import seconds_per_step  # noqa: E402
from tools.toymodel import finetune, models  # noqa: E402
from tools.toymodel.checkpoint import save_checkpoint  # noqa: E402
from tools.toymodel import train_controlnet as controlnet_command  # noqa: E402
from tools.toymodel import train_lora as lora_command  # noqa: E402

STEPS = 4  # timed steps per case, after a one-step warm-up run
BATCH = 16
DEFAULT_STEPS = {"controlnet": controlnet_command.DEFAULT_STEPS, "lora": lora_command.DEFAULT_STEPS,
                 "lora --text-encoder": lora_command.DEFAULT_STEPS}


def timed(train, base) -> float:
    """Mean seconds per step of `train(base, steps)`, after a warm-up call."""
    for steps in (1, STEPS):
        started = time.perf_counter()
        result = train(base, steps)
        if hasattr(result[0], "remove"):
            result[0].remove()  # unhook the LoRA so the next case starts from the plain base
    return (time.perf_counter() - started) / STEPS


def main() -> int:
    torch.set_num_threads(1)
    quiet = dict(batch=BATCH, log=lambda _: None)
    with tempfile.TemporaryDirectory() as work:
        path = save_checkpoint(Path(work) / "base.safetensors", models.build_unet(1), models.build_vae(0),
                               models.build_text_encoder(2))
        base = finetune.load_base(path)
        lora = lora_command.train_lora
        cases = {"controlnet": timed(lambda b, n: controlnet_command.train_controlnet(b, n, **quiet), base),
                 "lora": timed(lambda b, n: lora(b, "star", n, **quiet), base),
                 "lora --text-encoder": timed(lambda b, n: lora(b, "star", n, text_encoder=True, **quiet), base)}
    reference = seconds_per_step("unet", 1, unet_steps=STEPS + 1, unet_batch=BATCH, text_encoder="frozen")
    print(f"reference: base UNet step, batch {BATCH}, text encoder frozen, 1 thread: {reference:.3f} s")
    for name, seconds in cases.items():
        print(f"{name} step, batch {BATCH}: {seconds:.3f} s ({seconds / reference:.2f}x reference); "
              f"default {DEFAULT_STEPS[name]} steps ≈ {seconds * DEFAULT_STEPS[name] / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
