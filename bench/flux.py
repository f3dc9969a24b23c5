"""Flux.1: peak RSS while loading a full-width BFL-layout file, and seconds per sampling step against diffusers.

    .venv/bin/python bench/flux.py                        # both parts, defaults below (~2.6 GB fp32 file)
    .venv/bin/python bench/flux.py --dtype bf16           # the load part with a bf16 file (cast to fp32 on CPU)
    .venv/bin/python bench/flux.py --double 2 --single 4  # more full-width blocks (~5 GB fp32 file)
    .venv/bin/python bench/flux.py --skip-load / --skip-sampling

1. Load: a random BFL-layout transformer with the real Flux.1-dev widths (3072 hidden, 24 heads of 128, T5 context
   4096, pooled CLIP 768, guidance_in, 64-wide patches) but only a few blocks, written tensor by tensor to a temp
   folder. A fresh child process imports torch/diffusers/transformers and diffloom's loaders (the baseline RSS),
   then runs `runtime.loaders.load_unet(path)`; its peak RSS (VmHWM) minus the baseline, also after reading every
   weight once (what the first step does, so memory-mapped pages count), is compared with the file size.
   Target (issue 14): peak RSS at load ≤ 1.3 × file size.
2. Sampling: a tiny Flux (same structure, small width; flags) loaded through `load_unet`, sampled with diffloom's
   `Guider` + `sample` (euler over explicit sigmas, distilled guidance 3.5, cfg 1) against the loop diffusers'
   FluxPipeline runs (packed latents, `transformer(...)`, FlowMatchEulerDiscreteScheduler steps) on the same
   network object, noise, sigmas and conditioning. CPU time of this process by default (`--clock wall` for
   elapsed time), 1 thread, interleaved repeated runs; fastest and median ratio. Target: ratio ≤ 1.02.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
from bench.rss import peak_mb, rss_mb  # noqa: E402

# Flux.1-dev's widths
DEV = dict(in_channels=64, attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
           pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=(16, 56, 56))
GUIDANCE = 3.5


def bfl_shapes(config: dict) -> dict:
    """BFL key → shape of a FluxTransformer2DModel with `config`, built on the meta device (no memory)."""
    import torch
    from diffusers import FluxTransformer2DModel

    from runtime.networks.flux import from_diffusers

    with torch.device("meta"):
        network = FluxTransformer2DModel(**config)
    return {k: tuple(v.shape) for k, v in from_diffusers(network.state_dict()).items()}


def write_safetensors(path: Path, shapes: dict, dtype: str, seed: int = 0) -> None:
    """A safetensors file of seeded random tensors, written one tensor at a time (memory: one tensor)."""
    import torch

    torch_dtype, name, size = {"fp32": (torch.float32, "F32", 4), "bf16": (torch.bfloat16, "BF16", 2)}[dtype]
    header, offset = {}, 0
    for key, shape in shapes.items():
        count = 1
        for n in shape:
            count *= n
        header[key] = {"dtype": name, "shape": list(shape), "data_offsets": [offset, offset + count * size]}
        offset += count * size
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    generator = torch.Generator().manual_seed(seed)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little") + blob)
        for key, shape in shapes.items():
            tensor = (torch.randn(shape, generator=generator) * 0.02).to(torch_dtype).contiguous()
            f.write(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


# --- 1. peak RSS at load -------------------------------------------------------------------------------------------

def measure_load(path: str) -> dict:
    """Runs in the child process."""
    import torch
    import diffusers  # noqa: F401  (imports are part of the baseline, not of loading)
    import transformers  # noqa: F401

    from runtime.loaders import load_unet

    torch.set_num_threads(1)
    baseline = rss_mb()
    start = time.perf_counter()
    model = load_unet(path)
    seconds = time.perf_counter() - start
    loaded_peak = peak_mb() - baseline
    dtypes = sorted({str(p.dtype) for p in model.unet.parameters()})
    with torch.no_grad():
        for p in model.unet.parameters():
            p.sum()
    return {"seconds": seconds, "peak_mb": loaded_peak, "touched_peak_mb": peak_mb() - baseline,
            "family": model.family, "dtypes": dtypes,
            "params": sum(p.numel() for p in model.unet.parameters())}


def bench_load(args) -> None:
    config = dict(DEV, num_layers=args.double, num_single_layers=args.single)
    for dtype in args.dtype:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"bench_flux_{dtype}.safetensors"
            start = time.perf_counter()
            write_safetensors(path, bfl_shapes(config), dtype)
            written = time.perf_counter() - start
            size_mb = path.stat().st_size / 2 ** 20
            env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
            out = subprocess.run([sys.executable, __file__, "--child", str(path)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
        print(f"load: file {size_mb:.0f} MB ({dtype}, Flux.1-dev widths, {args.double} double + {args.single} single "
              f"blocks, {r['params'] / 1e6:.0f}M params; written in {written:.0f} s) -> {r['family']} "
              f"{'/'.join(r['dtypes'])}")
        print(f"  load_unet {r['seconds']:6.2f} s  peak RSS {r['peak_mb']:7.0f} MB = {r['peak_mb'] / size_mb:4.2f}x "
              f"file  after touching every weight {r['touched_peak_mb']:7.0f} MB = "
              f"{r['touched_peak_mb'] / size_mb:4.2f}x   (target peak ≤ 1.3x file)")


# --- 2. seconds per sampling step -------------------------------------------------------------------------------

def build_tiny(folder: Path, args):
    """A tiny random Flux transformer written in the BFL layout and loaded through `load_unet`."""
    import torch
    from diffusers import FluxTransformer2DModel
    from safetensors.torch import save_file

    from runtime.loaders import load_unet
    from runtime.networks.flux import from_diffusers

    torch.manual_seed(0)
    network = FluxTransformer2DModel(**dict(DEV, num_layers=args.tiny_double, num_single_layers=args.tiny_single,
                                            num_attention_heads=args.width // 128,
                                            joint_attention_dim=args.context_dim)).eval()
    with torch.no_grad():
        for param in network.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    path = folder / "tiny_flux.safetensors"
    save_file({k: v.contiguous() for k, v in from_diffusers(network.state_dict()).items()}, str(path))
    return load_unet(path)


def diffloom_run(model, conditioning, noise, sigmas, clock) -> tuple[float, "torch.Tensor"]:
    import torch

    from runtime.sampling.guidance import Guider
    from runtime.sampling.sample import sample
    from runtime.sampling.samplers import sampler_object

    positive, negative = conditioning
    start = clock()
    with torch.no_grad():
        guider = Guider(model, positive, negative, 1.0)
        samples, _ = sample(guider, noise, torch.zeros_like(noise), sampler_object("euler"), sigmas)
    return clock() - start, samples


def diffusers_run(network, context, pooled, noise, sigmas, clock) -> tuple[float, "torch.Tensor"]:
    """FluxPipeline's denoising loop without text encoding and decoding."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    from runtime.networks.flux import pack, unpack

    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0)
    start = clock()
    scheduler.set_timesteps(sigmas=sigmas[:-1].tolist())
    latents, img_ids = pack(noise)
    txt_ids = torch.zeros(context.shape[1], 3)
    guidance = torch.full([1], GUIDANCE)
    with torch.no_grad():
        for t in scheduler.timesteps:
            timestep = t.expand(latents.shape[0]).to(latents.dtype)
            velocity = network(hidden_states=latents, timestep=timestep / 1000, guidance=guidance,
                               pooled_projections=pooled, encoder_hidden_states=context, txt_ids=txt_ids,
                               img_ids=img_ids, return_dict=False)[0]
            latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
    elapsed = clock() - start
    return elapsed, unpack(latents, *noise.shape[-2:])


def bench_sampling(args) -> None:
    import torch

    from runtime.sampling.noise import SeededNoise

    torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    with tempfile.TemporaryDirectory() as folder:
        model = build_tiny(Path(folder), args)
    network = model.unet
    generator = torch.Generator().manual_seed(1)
    context = torch.randn(1, args.tokens, args.context_dim, generator=generator)
    pooled = torch.randn(1, 768, generator=generator)
    conditioning = ([[context, {"pooled_output": pooled, "guidance": GUIDANCE}]],
                    [[torch.zeros_like(context), {"pooled_output": torch.zeros_like(pooled)}]])
    latent = {"samples": torch.zeros(1, 16, args.latent, args.latent)}

    def runs(steps: int, repeats: int):
        sigmas = torch.linspace(1.0, 0.0, steps + 1)
        ours, theirs, difference = [], [], 0.0
        for r in range(repeats):  # interleaved, so drift in machine load hits both sides alike
            noise = SeededNoise(r).generate_noise(latent)
            seconds, mine = diffloom_run(model, conditioning, noise, sigmas, clock)
            ours.append(seconds / steps)
            seconds, reference = diffusers_run(network, context, pooled, noise, sigmas, clock)
            theirs.append(seconds / steps)
            difference = float((model.latent_format.process_in(mine) - reference).abs().max())
        return ours, theirs, difference

    runs(1, 1)  # warm-up (first-call allocations in both paths)
    ours, theirs, difference = runs(args.steps, args.repeats)
    ours_s, theirs_s = min(ours), min(theirs)
    print(f"sampling: tiny Flux {args.width} wide ({args.width // 128} heads of 128), {args.tiny_double} double + "
          f"{args.tiny_single} single blocks, 16x{args.latent}x{args.latent} latent "
          f"({(args.latent // 2) ** 2} image + {args.tokens} text tokens), context {args.context_dim}")
    print(f"  diffloom Guider+sample (euler): {ours_s * 1000:.1f} ms/step   diffusers Flux loop: "
          f"{theirs_s * 1000:.1f} ms/step")
    print(f"  ratio diffloom / diffusers = {ours_s / theirs_s:.3f} (fastest runs), "
          f"{statistics.median(ours) / statistics.median(theirs):.3f} (medians)   target <= 1.02; {args.steps} steps, "
          f"{args.repeats} runs each, {args.threads} thread(s), {args.clock} time; last max |Δlatent| = "
          f"{difference:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--double", type=int, default=1, help="full-width double blocks of the load file")
    parser.add_argument("--single", type=int, default=2, help="full-width single blocks of the load file")
    parser.add_argument("--dtype", nargs="+", choices=["fp32", "bf16"], default=["fp32"],
                        help="load file dtype(s), e.g. --dtype fp32 bf16")
    parser.add_argument("--width", type=int, default=256, help="tiny Flux hidden width (a multiple of 128)")
    parser.add_argument("--tiny-double", type=int, default=2)
    parser.add_argument("--tiny-single", type=int, default=4)
    parser.add_argument("--latent", type=int, default=64, help="latent height and width")
    parser.add_argument("--tokens", type=int, default=64, help="text tokens")
    parser.add_argument("--context-dim", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-sampling", action="store_true")
    parser.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import runtime

    runtime.configure(devices="cpu")
    if args.child:
        print(json.dumps(measure_load(args.child)))
        return
    if not args.skip_load:
        bench_load(args)
    if not args.skip_sampling:
        bench_sampling(args)


if __name__ == "__main__":
    main()
