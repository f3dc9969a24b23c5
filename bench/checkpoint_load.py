"""Checkpoint load time and peak RSS against the file size, for diffloom's loader and a naive reference.

    .venv/bin/python bench/checkpoint_load.py            # SD1.5 architecture at half width, fp32 (~1.1 GB file)
    .venv/bin/python bench/checkpoint_load.py --full     # real SD1.5 size, fp32 (~4.3 GB file)

Each measurement runs in a fresh process: RSS after importing torch/diffusers/transformers is the baseline; the
peak (VmHWM) minus that baseline is what loading cost. "touched" also reads every weight once (what the first
sampling step does), so memory-mapped pages are counted too. The reference is the common naive path:
`safetensors.torch.load_file` + randomly initialised diffusers/transformers models + `load_state_dict` (copies).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from bench.rss import peak_mb, rss_mb  # noqa: E402


def write_checkpoint(path: Path, full: bool) -> None:
    """A random SD1.5-architecture checkpoint in the original single-file layout."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from tiny_models import clip_original, unet_original, vae_original

    scale = 1 if full else 2
    unet_config = dict(block_out_channels=[320 // scale, 640 // scale, 1280 // scale, 1280 // scale],
                       layers_per_block=2, cross_attention_dim=768, attention_head_dim=8,
                       down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                       up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
    vae_config = dict(block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=4,
                      down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4)
    clip_config = CLIPTextConfig(vocab_size=49408, hidden_size=768, num_hidden_layers=12, intermediate_size=3072,
                                 num_attention_heads=12, max_position_embeddings=77)
    with torch.device("meta"):
        parts = [("model.diffusion_model.", unet_original(UNet2DConditionModel(**unet_config))),
                 ("first_stage_model.", vae_original(AutoencoderKL(**vae_config))),
                 ("cond_stage_model.transformer.", clip_original(CLIPTextModel(clip_config), "hf"))]
    generator = torch.Generator().manual_seed(0)
    state = {prefix + k: torch.randn(v.shape, generator=generator) * 0.02 for prefix, part in parts
             for k, v in part.items()}
    save_file(state, str(path))


def measure(path: str, how: str) -> dict:
    """Runs in the child process."""
    import torch
    import diffusers  # noqa: F401  (imports are part of the baseline, not of loading)
    import transformers  # noqa: F401

    from runtime.loaders import load_checkpoint

    torch.set_num_threads(1)
    baseline = rss_mb()
    start = time.perf_counter()
    if how == "diffloom":
        model, clip, vae = load_checkpoint(path)
        networks = [model.unet, vae.autoencoder] + [s.model for s in clip.slots]
    else:
        networks = naive_load(path)
    seconds = time.perf_counter() - start
    loaded_peak = peak_mb() - baseline
    with torch.no_grad():
        for network in networks:
            for p in network.parameters():
                p.sum()
    return {"seconds": seconds, "peak_mb": loaded_peak, "touched_peak_mb": peak_mb() - baseline}


def naive_load(path: str):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import load_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from runtime.families import detect_checkpoint
    from runtime.loaders import strip_prefix
    from runtime.networks.unet_keys import unet_key_map
    from runtime.text.clip import canonical_clip, clip_config_from_shapes
    from runtime.vae.autoencoder import vae_config_from_shapes
    from runtime.vae.keys import is_attention_projection, vae_key_map
    from runtime.weights.shapes import shapes_of

    state = load_file(path)
    info = detect_checkpoint(state)
    unet = UNet2DConditionModel(**info.unet_config)
    back = unet_key_map(info.unet_config, unet.state_dict())
    unet.load_state_dict({back[k]: v for k, v in strip_prefix(state, "model.diffusion_model.").items()})
    vae_sd = strip_prefix(state, "first_stage_model.")
    vae_config = vae_config_from_shapes(shapes_of(vae_sd), "")
    vae = AutoencoderKL(**vae_config)
    vmap = vae_key_map(vae_config, vae.state_dict())
    vae.load_state_dict({vmap[k]: (v.flatten(1) if is_attention_projection(vmap[k]) else v) for k, v in vae_sd.items()})
    canonical = canonical_clip(strip_prefix(state, "cond_stage_model.transformer."), "hf")
    clip = CLIPTextModel(CLIPTextConfig(**clip_config_from_shapes(shapes_of(canonical), "l")))
    clip.load_state_dict(canonical)
    return [unet, vae, clip]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="real SD1.5 size (~4.3 GB file)")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "HOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import runtime

        runtime.configure(devices="cpu")
        print(json.dumps(measure(*args.child)))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench_sd15.safetensors"
        write_checkpoint(path, args.full)
        size_mb = path.stat().st_size / 2 ** 20
        env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
        results = {}
        for how in ("naive", "diffloom"):
            out = subprocess.run([sys.executable, __file__, "--child", str(path), how], env=env, check=True,
                                 capture_output=True, text=True).stdout
            results[how] = json.loads(out.strip().splitlines()[-1])
    print(f"file: {size_mb:.0f} MB (fp32, SD1.5 architecture{'' if args.full else ' at half width'})")
    for how, r in results.items():
        print(f"{how:9s} load {r['seconds']:6.2f} s  peak RSS {r['peak_mb']:7.0f} MB = "
              f"{r['peak_mb'] / size_mb:4.2f}x file  after touching every weight "
              f"{r['touched_peak_mb']:7.0f} MB = {r['touched_peak_mb'] / size_mb:4.2f}x")
    ratio = results["diffloom"]["seconds"] / results["naive"]["seconds"]
    memory = results["diffloom"]["touched_peak_mb"] / results["naive"]["touched_peak_mb"]
    print(f"diffloom / naive: load time {ratio:.2f}x, peak RSS {memory:.2f}x (target peak ≤ 1.3x file)")


if __name__ == "__main__":
    main()
