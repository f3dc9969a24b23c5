"""ImageUpscaleWithModel cost: the tiled run (512-pixel tiles, 32 overlap, as the node does) against one untiled
call of the same ESRGAN network, and smaller tiles. Prints times and ratios measured in the same run.

    .venv/bin/python bench/upscale.py [--arch esrgan|swinir] [--features 32] [--blocks 4] [--size 640] [--threads 2]

The network has random weights: an RRDBNet ×4 (`--features`/`--blocks`; Real-ESRGAN x4plus is 64/23), or a
lightweight SwinIR ×4 (`pixelshuffledirect`, width `--features`, `--blocks` groups of 2 blocks, window 8; the
released lightweight model is 60 wide with 4 groups of 6).
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


def network_for(args):
    from runtime.upscale.models import RRDBNet
    from runtime.upscale.swinir import SwinIR, SwinIRConfig

    if args.arch == "esrgan":
        return "ESRGAN", RRDBNet(3, 3, args.features, args.features // 2, args.blocks, upsamples=2)
    config = SwinIRConfig(in_channels=3, embed_dim=args.features, depths=(2,) * args.blocks,
                          heads=(args.features // 16,) * args.blocks, window=8, mlp_hidden=args.features * 2, scale=4,
                          upsampler="pixelshuffledirect", residual_convs="1conv", patch_norm=True)
    network = SwinIR(config)
    for name, parameter in network.named_parameters():  # SwinIR builds its tables empty: give them values
        if name.endswith("relative_position_bias_table"):
            parameter.data.normal_(0, 0.02)
    return "SwinIR", network


def main() -> None:
    from runtime.upscale.models import UpscaleModel, upscale_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["esrgan", "swinir"], default="esrgan")
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    architecture, network = network_for(args)
    model = UpscaleModel(architecture, network.eval().requires_grad_(False))
    image = torch.rand(1, args.size, args.size, 3)
    pixels = image.movedim(-1, 1)

    whole = timed(lambda: model(pixels), args.repeats)
    print(f"{architecture}: untiled call {args.size}² → {args.size * 4}²: {whole:.2f} s (reference)")
    for tile in (512, 256, 128):
        seconds = timed(lambda: upscale_image(model, image, tile=tile), args.repeats)
        tiles = len(range(0, max(1, args.size - tile), tile - 32)) + (args.size > tile)
        print(f"tiled {tile} px (overlap 32, {tiles}×{tiles} tiles): {seconds:.2f} s = {seconds / whole:.2f}× untiled")
    untiled = model(pixels).clamp(0, 1).movedim(1, -1)
    for tile in (256, 128):
        error = (upscale_image(model, image, tile=tile) - untiled).abs()
        print(f"{tile}-px tiles vs untiled: mean |Δ| {error.mean():.2e}, max |Δ| {error.max():.2e}")


if __name__ == "__main__":
    main()
