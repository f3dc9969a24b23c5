"""Train a silhouette ControlNet on the frozen toy base and save it in the original `control_model.*` layout.

    .venv/bin/python -m tools.toymodel.train_controlnet --base models/checkpoints/toy_shapes.safetensors \
        --out models/controlnet/toy_silhouette.safetensors

The control image is the domain's white-on-black silhouette; ControlNetLoader reads the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from tools.toymodel import data, finetune, models
from tools.toymodel.train_unet import diffusion_loss

# The toy VAE downscales 4x (not SD's 8x), so the hint encoder has two stride-2 convolutions, not three.
HINT_CHANNELS = (16, 32, 64)
CONTROL_PREFIX = "control_model."
DATA_STREAM = 4  # picture stream of this trainer (the base used 1-3)
DEFAULT_STEPS = 3000  # a first guess, not yet tuned on a trained base


def control_images(samples) -> torch.Tensor:
    """[B, 3, H, W] float32 in 0..1: the hint as ControlNetApply hands it to the network."""
    stacked = np.stack([s.control for s in samples]).astype(np.float32) / 255
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


def build_controlnet(unet, seed: int):
    """A ControlNet copying the base UNet's encoder (zero convolutions start at zero: no change at first)."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    return ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=HINT_CHANNELS)


class ControlledUNet:
    """Calls like a UNet (`(noisy, t, context).sample`), with the ControlNet's residuals for one hint added."""

    def __init__(self, unet, controlnet, hint: torch.Tensor):
        self.unet, self.controlnet, self.hint = unet, controlnet, hint

    def __call__(self, noisy, timesteps, context):
        down, mid = self.controlnet(noisy, timesteps, encoder_hidden_states=context, controlnet_cond=self.hint,
                                    return_dict=False)
        return self.unet(noisy, timesteps, context, down_block_additional_residuals=down,
                         mid_block_additional_residual=mid)


def train_controlnet(base: finetune.Base, steps: int, batch: int = 16, lr: float = 1e-4, warmup: int = 50,
                     seed: int = 0, caption_dropout: float = 0.1, snr_gamma: float = 5.0, log=print,
                     log_every: int = 25):
    """(ControlNet, per-step losses): the base stays frozen, only the ControlNet learns."""
    controlnet = build_controlnet(base.unet, seed + 3).train()
    config = finetune.concept_domain(None)
    stream = seed * 10 + DATA_STREAM

    def loss(step):
        samples, generator, tokens = data.captioned_step(stream, step, batch, config, caption_dropout, base.tokenizer)
        controlled = ControlledUNet(base.unet, controlnet, control_images(samples))
        return diffusion_loss(controlled, base.text_encoder, base.scheduler, base.latents(samples), tokens, generator,
                              False, snr_gamma)

    params = list(controlnet.parameters())
    losses = finetune.run_loop(params, loss, steps, lr, warmup, log, log_every, tag="controlnet")
    return controlnet.eval(), losses


def save_controlnet(path: str | Path, controlnet, dtype: torch.dtype = torch.float16, metadata=None) -> Path:
    """The ControlNet as one `.safetensors` file in the original layout, renamed by the loader's own key map."""
    from safetensors.torch import save_file

    from runtime.control.controlnet import diffusers_to_original

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_controlnet: {path} must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {CONTROL_PREFIX + k: v.to(dtype).contiguous()
               for k, v in diffusers_to_original(controlnet.state_dict()).items()}
    partial = path.with_suffix(".partial")
    save_file(weights, str(partial), metadata={"format": "pt", **(metadata or {})})
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.toymodel.train_controlnet",
                                     description=__doc__.splitlines()[0])
    finetune.common_arguments(parser, steps=DEFAULT_STEPS, batch=16, lr=1e-4)
    parser.add_argument("--out", type=Path, default=Path("models/controlnet/toy_silhouette.safetensors"))
    parser.add_argument("--snr-gamma", type=float, default=5.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = finetune.load_base(args.base)
    controlnet, _ = train_controlnet(base, args.steps, args.batch, args.lr, args.warmup_steps, args.seed,
                                     args.caption_dropout, args.snr_gamma, log_every=args.log_every)
    settings = {k: str(v) for k, v in vars(args).items()}
    print(f"ControlNet ({models.parameter_count(controlnet) / 1e6:.2f}M parameters) written: "
          f"{save_controlnet(args.out, controlnet, metadata={'diffloom_toymodel_controlnet': json.dumps(settings)})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
