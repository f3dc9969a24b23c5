"""Train a LoRA that teaches the frozen toy base a concept it never saw ("star" or "striped"), saved in kohya format.

    .venv/bin/python -m tools.toymodel.train_lora --base models/checkpoints/toy_shapes.safetensors \
        --concept star --out models/loras/toy_star.safetensors

Keys are kohya's: `lora_unet_<diffusers module, dots as underscores>` and `lora_te_text_model_<CLIP text module>`,
each with `.lora_down.weight`, `.lora_up.weight` and `.alpha`: names LoraLoader matches (runtime/lora/keys.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from tools.toymodel import data, finetune
from tools.toymodel.train_unet import diffusion_loss

UNET_TARGETS = (".to_q", ".to_k", ".to_v", ".to_out.0")  # the UNet's attention projections
TEXT_TARGETS = (".q_proj", ".k_proj", ".v_proj", ".out_proj")  # the text encoder's
DATA_STREAM = 5
DEFAULT_STEPS = 2000  # a first guess, not yet tuned on a trained base


def kohya_name(module: str, text: bool) -> str:
    """kohya's module name: dots as underscores; text encoder modules under CLIPTextModel's `text_model.` level,
    which transformers 5 no longer has but every kohya SD1 file names."""
    if text and not module.startswith("text_model."):
        module = "text_model." + module
    return module.replace(".", "_")


class LoraLayer(torch.nn.Module):
    """down (rank x in, random), up (out x rank, zero): adds up·down·x × alpha/rank to a frozen linear's output."""

    def __init__(self, linear: torch.nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.down = torch.nn.Parameter(torch.randn(rank, linear.in_features) / rank)
        self.up = torch.nn.Parameter(torch.zeros(linear.out_features, rank))
        self.scale = alpha / rank
        self.handle = linear.register_forward_hook(lambda _module, args, out: out + self.delta(args[0]))

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.down.t()) @ self.up.t() * self.scale


class Lora:
    """LoRA layers hooked onto the chosen linears of the base, by kohya module name; `remove` unhooks them."""

    def __init__(self, base: finetune.Base, rank: int = 8, alpha: float = 8.0, text_encoder: bool = False,
                 seed: int = 0):
        torch.manual_seed(seed)
        self.rank, self.alpha = rank, alpha
        self.layers: dict[str, LoraLayer] = {}
        networks = [("lora_unet_", base.unet, UNET_TARGETS)]
        if text_encoder:
            networks.append(("lora_te_", base.text_encoder, TEXT_TARGETS))
        for prefix, network, targets in networks:
            for name, module in network.named_modules():
                if isinstance(module, torch.nn.Linear) and name.endswith(targets):
                    self.layers[prefix + kohya_name(name, prefix == "lora_te_")] = LoraLayer(module, rank, alpha)
        if not self.layers:
            raise ValueError("Lora: no attention projections found to adapt")

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for layer in self.layers.values() for p in (layer.down, layer.up)]

    def remove(self) -> None:
        for layer in self.layers.values():
            layer.handle.remove()

    def state_dict(self, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
        """kohya keys: `<module>.lora_down.weight`, `<module>.lora_up.weight`, `<module>.alpha`."""
        out = {}
        for name, layer in self.layers.items():
            out[f"{name}.lora_down.weight"] = layer.down.detach().to(dtype).contiguous()
            out[f"{name}.lora_up.weight"] = layer.up.detach().to(dtype).contiguous()
            out[f"{name}.alpha"] = torch.tensor(float(self.alpha), dtype=dtype)
        return out


def train_lora(base: finetune.Base, concept: str, steps: int, batch: int = 16, lr: float = 1e-3, warmup: int = 50,
               seed: int = 0, rank: int = 8, alpha: float = 8.0, text_encoder: bool = False,
               caption_dropout: float = 0.1, snr_gamma: float = 5.0, log=print, log_every: int = 25):
    """(Lora still hooked onto `base`, per-step losses) on pictures where `concept` fills half the batches."""
    lora = Lora(base, rank, alpha, text_encoder, seed + 4)
    config = finetune.concept_domain(concept)
    stream = seed * 10 + DATA_STREAM

    def loss(step):
        samples, generator, tokens = data.captioned_step(stream, step, batch, config, caption_dropout, base.tokenizer)
        return diffusion_loss(base.unet, base.text_encoder, base.scheduler, base.latents(samples), tokens, generator,
                              text_encoder, snr_gamma)

    losses = finetune.run_loop(lora.parameters(), loss, steps, lr, warmup, log, log_every, tag=f"lora {concept}")
    return lora, losses


def save_lora(path: str | Path, lora: Lora, dtype: torch.dtype = torch.float16, metadata=None) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_lora: {path} must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    save_file(lora.state_dict(dtype), str(partial), metadata={"format": "pt", **(metadata or {})})
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.toymodel.train_lora", description=__doc__.splitlines()[0])
    finetune.common_arguments(parser, steps=DEFAULT_STEPS, batch=16, lr=1e-3)
    parser.add_argument("--concept", choices=finetune.CONCEPTS, default="star")
    parser.add_argument("--out", type=Path, default=None, help="default models/loras/toy_<concept>.safetensors")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=8.0)
    parser.add_argument("--text-encoder", action="store_true", help="also adapt the text encoder's attention")
    parser.add_argument("--snr-gamma", type=float, default=5.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = finetune.load_base(args.base)
    lora, _ = train_lora(base, args.concept, args.steps, args.batch, args.lr, args.warmup_steps, args.seed,
                         args.rank, args.alpha, args.text_encoder, args.caption_dropout, args.snr_gamma,
                         log_every=args.log_every)
    out = args.out or Path(f"models/loras/toy_{args.concept}.safetensors")
    settings = json.dumps({k: str(v) for k, v in vars(args).items()})
    written = save_lora(out, lora, metadata={"diffloom_toymodel_lora": settings})
    print(f"LoRA ({len(lora.layers)} modules) written: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
