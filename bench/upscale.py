"""ImageUpscaleWithModel cost: the tiled run (512-pixel tiles, 32 overlap, as the node does) against one untiled
call of the same ESRGAN network, and smaller tiles. Prints times and ratios measured in the same run.

    .venv/bin/python bench/upscale.py [--features 32] [--blocks 4] [--size 640] [--threads 2]

The network is an RRDBNet ×4 with random weights (`--features`/`--blocks`; Real-ESRGAN x4plus is 64/23).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(function, repeats: int) -> float:
    """Fastest of `repeats` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    from nodes.diffusion.upscale import RRDBNet, UpscaleModel, tiled_upscale, upscale_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    network = RRDBNet(3, 3, args.features, args.features // 2, args.blocks, upsamples=2).eval().requires_grad_(False)
    model = UpscaleModel("ESRGAN", network)
    image = torch.rand(1, args.size, args.size, 3)
    pixels = image.movedim(-1, 1)

    whole = timed(lambda: model(pixels), args.repeats)
    print(f"untiled call {args.size}² → {args.size * 4}²: {whole:.2f} s (reference)")
    for tile in (512, 256, 128):
        seconds = timed(lambda: upscale_image(model, image, tile=tile), args.repeats)
        tiles = len(range(0, max(1, args.size - tile), tile - 32)) + (args.size > tile)
        print(f"tiled {tile} px (overlap 32, {tiles}×{tiles} tiles): {seconds:.2f} s = {seconds / whole:.2f}× untiled")
    error = (tiled_upscale(model, pixels, 4, 256, 32).clamp(0, 1) - model(pixels).clamp(0, 1)).abs()
    print(f"256-px tiles vs untiled: mean |Δ| {error.mean():.2e}, max |Δ| {error.max():.2e}")


if __name__ == "__main__":
    main()
