"""LoRA cost: sampling steps with a LoRA against steps without, the cost of switching patch sets, and re-loading a
cached file. Prints ratios against the plain UNet step measured in the same run.

    .venv/bin/python bench/lora.py [--channels 160] [--rank 16] [--latent 32]

The UNet has SD1.5's structure (4 levels, 2 resnets per level, 8 heads, 768-wide context) with `--channels` base
width (320 = real size); the LoRA covers every attention, feed-forward and projection layer, like a typical kohya
file.

Times are CPU time of this process (best of several runs) on `--threads` torch threads (default 1): unlike wall
time they do not grow when other jobs share the machine, so the ratios hold on a busy CPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def sd15_like(channels: int):
    from diffusers import UNet2DConditionModel

    from runtime.families import latent_format_for
    from runtime.model import DiffusionModel
    from runtime.sampling.model_sampling import DiscreteSampling

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, block_out_channels=[channels, 2 * channels, 4 * channels, 4 * channels], layers_per_block=2,
        down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
        up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, cross_attention_dim=768, attention_head_dim=8,
    ).eval().requires_grad_(False)
    return DiffusionModel(unet, "sd1", DiscreteSampling(), latent_format_for("sd1"))


def best_of(n: int, fn) -> float:
    """The least CPU time of `n` runs of `fn`."""
    times = []
    for _ in range(n):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=160)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from safetensors.torch import save_file

    from runtime.lora import patches as lora_runtime
    from runtime.weights.patches import apply_patches
    from tiny_models import TinyCheckpoint, tiny_lora_state

    model = sd15_like(args.channels)
    tiny = TinyCheckpoint("sd1", Path("unused"), {"unet": model.unet})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench_lora.safetensors"
        save_file(tiny_lora_state(tiny, "kohya", rank=args.rank, text=False), str(path))
        first_load = best_of(1, lambda: lora_runtime.load_lora(path))
        cached_load = best_of(5, lambda: lora_runtime.load_lora(path))
        patched, _ = lora_runtime.apply_lora(lora_runtime.load_lora(path), model, None, 0.8, 0.0)

        x = torch.randn(2, 4, args.latent, args.latent)
        t = torch.tensor([500.0, 500.0])
        context = torch.randn(2, 77, 768)
        base_step = best_of(3, lambda: model.unet_forward(x, t, context, {}))
        patched.unet_forward(x, t, context, {})  # patches in place
        lora_step = best_of(3, lambda: patched.unet_forward(x, t, context, {}))
        switch = best_of(3, lambda: (apply_patches(model.unet, ()), apply_patches(model.unet, patched.patches)))
        patched_bytes = sum(p.numel() * p.element_size() for n, p in model.unet.named_parameters()
                            if n in {patch.key for patch in patched.patches})
        total_bytes = sum(p.numel() * p.element_size() for p in model.unet.parameters())

    print(f"UNet {total_bytes / 2**20:.0f} MiB, LoRA rank {args.rank} on {len(patched.patches)} weights "
          f"({patched_bytes / 2**20:.0f} MiB of them), latent {args.latent}x{args.latent}, batch 2")
    print(f"plain UNet step               {base_step * 1000:8.1f} ms   1.00x")
    print(f"step with the LoRA in place   {lora_step * 1000:8.1f} ms   {lora_step / base_step:.2f}x")
    print(f"switch patch sets (restore + patch) {switch * 1000:8.1f} ms   {switch / base_step:.2f}x of a step")
    print(f"extra memory while patched    {patched_bytes / 2**20:8.0f} MiB  "
          f"{patched_bytes / total_bytes:.2f}x of the UNet")
    print(f"parse file first / cached     {first_load * 1000:8.1f} ms / {cached_load * 1000:.3f} ms")


if __name__ == "__main__":
    main()
