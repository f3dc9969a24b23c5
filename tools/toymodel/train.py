"""Train the toy model from scratch, VAE first, then UNet (+ text encoder), then the same on loose captions, into one
SD1-layout checkpoint.

    .venv/bin/python -m tools.toymodel.train --out models/checkpoints/toy_shapes.safetensors

Deterministic for a seed (one torch thread; every step's data and noise derive from the seed and the step number),
resumable from the state saved every --save-every steps in --work-dir.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import fields
from pathlib import Path

import torch

from tools.toymodel import data, models
from tools.toymodel.checkpoint import save_checkpoint
from tools.toymodel.ema import ExponentialAverage
from tools.toymodel.recipe import TEXT_ENCODER_MODES, Recipe
from tools.toymodel.train_unet import diffusion_loss, scaled_latents
from tools.toymodel.train_vae import normalise_latents, vae_loss

# Settings that must match for --resume to continue a run (step counts and intervals may change).
RESUME_MUST_MATCH = ("seed", "size", "position_prob", "vae_batch", "unet_batch", "text_encoder")
EVAL_CFGS = (7.0, 1.0)  # the shipped workflow's guidance, and none: the gap is what stage 3 is for
# separate picture streams per use, all from the one seed
DATA_STREAMS = {"vae": 1, "unet": 2, "normalise": 3, "noisy": 4}


class StopTraining(Exception):
    """Raised inside the loop when this call's step budget (--stop-after) is spent; the state is saved."""


class Trainer:
    """Holds the three networks and runs the stages, saving state and checkpoints as it goes."""

    def __init__(self, recipe: Recipe, out: Path, work_dir: Path, log=print, stop_after: int | None = None):
        self.recipe, self.out, self.work_dir, self.log = recipe, Path(out), Path(work_dir), log
        self.steps_left = stop_after  # steps this call may still take; None: run to the end
        self.vae = models.build_vae(recipe.seed)
        self.unet = models.build_unet(recipe.seed + 1)
        self.text_encoder = models.build_text_encoder(recipe.seed + 2)
        self.scheduler = models.build_scheduler()
        self.tokenizer = models.CaptionTokenizer()
        self.stage, self.step, self.optimizer_state = "vae", 0, None
        self.normalisation: dict = {}
        self.ema: ExponentialAverage | None = None
        self.history: dict[str, list[float]] = {"vae": [], "unet": [], "noisy": []}  # loss per step of this call
        self.step_seconds: dict[str, list[float]] = {"vae": [], "unet": [], "noisy": []}

    @property
    def state_path(self) -> Path:
        return self.work_dir / "state.pt"

    def run(self) -> dict[str, list[float]]:
        """Run (or finish) the stages and write the checkpoint; returns the per-step losses of this call."""
        try:
            self._run_stages()
        except StopTraining:
            self.log(f"stopped at {self.stage} step {self.step}; continue with --resume")
            return self.history
        self.save_checkpoint()
        self._evaluate()
        return self.history

    def _run_stages(self) -> None:
        if self.stage == "vae":
            self.train_vae()
            self._normalise()
            self.stage, self.step, self.optimizer_state = "unet", 0, None
            self._save_state()
        if self.stage == "unet":
            self.train_unet()
            self.stage, self.step, self.optimizer_state = "noisy", 0, None
            self._save_state()
        if self.stage == "noisy":
            self.train_noisy()
            self.stage = "done"
            self._save_state()

    def _seed(self, stream: str) -> int:
        return self.recipe.seed * 10 + DATA_STREAMS[stream]

    def train_vae(self) -> None:
        """Stage 1 (from the current step): the VAE learns to reconstruct the domain."""
        r = self.recipe
        self.vae.train()
        optimizer = torch.optim.AdamW(self.vae.parameters(), lr=r.vae_lr, weight_decay=0.0)

        def loss(step):
            samples = data.step_batch(self._seed("vae"), step, r.vae_batch, r.domain())
            return vae_loss(self.vae, data.pictures(samples), data.step_generator(self._seed("vae"), step), r.kl_weight)

        self._loop("vae", r.vae_steps, optimizer, list(self.vae.parameters()), loss)

    def _normalise(self) -> None:
        samples = data.step_batch(self._seed("normalise"), 0, self.recipe.normalise_pictures, self.recipe.domain())
        self.vae.eval()
        self.normalisation = normalise_latents(self.vae, data.pictures(samples))
        self.log(f"[vae] latent std per channel {[round(s, 3) for s in self.normalisation['latent_std']]} "
                 f"rescaled to {1 / models.LATENT_SCALE:.3f} (SD1 scale factor {models.LATENT_SCALE})")

    def _prepare_unet_stage(self) -> dict[str, torch.nn.Module]:
        """Freeze the VAE, choose what trains in stage 2, start the weight average; returns the trained modules."""
        r = self.recipe
        train_text = r.text_encoder == "train"
        self.vae.eval().requires_grad_(False)
        self.unet.train()
        self.text_encoder.train(train_text).requires_grad_(train_text)
        # The random token table already gives each of the domain's ~25 words its own code; training the
        # transformer layers is what matters, and skipping the 6.3M-entry table makes a step much cheaper.
        self.text_encoder.get_input_embeddings().requires_grad_(False)
        trained = {"unet": self.unet, **({"text_encoder": self.text_encoder} if train_text else {})}
        if r.ema_decay > 0 and self.ema is None:
            self.ema = ExponentialAverage(trained, r.ema_decay)
        return trained

    def train_unet(self) -> None:
        """Stage 2 (from the current step): the UNet, and the text encoder if chosen, learn to predict the noise."""
        r = self.recipe
        self._train_diffusion("unet", r.unet_steps, r.unet_lr, r.text_lr, caption_noise=0.0)

    def train_noisy(self) -> None:
        """Stage 3 (from the current step): stage 2 goes on with loose captions (Recipe.caption_noise), so that the
        conditional model alone follows a prompt only mostly and classifier-free guidance visibly sharpens it."""
        r = self.recipe
        self._train_diffusion("noisy", r.noisy_steps, r.noisy_lr, r.text_lr * r.noisy_lr / r.unet_lr,
                              caption_noise=r.caption_noise)

    def _train_diffusion(self, stage: str, steps: int, unet_lr: float, text_lr: float, caption_noise: float) -> None:
        r = self.recipe
        train_text = r.text_encoder == "train"
        trained = self._prepare_unet_stage()
        groups = [{"params": list(self.unet.parameters()), "lr": unet_lr}]
        if train_text:
            trainable = [p for p in self.text_encoder.parameters() if p.requires_grad]
            groups.append({"params": trainable, "lr": text_lr})
        optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
        params = [p for g in groups for p in g["params"]]
        average = (lambda step: self.ema.update(trained, step)) if self.ema is not None else None

        def loss(step):
            samples, generator, tokens = data.captioned_step(self._seed(stage), step, r.unet_batch, r.domain(),
                                                             r.caption_dropout, self.tokenizer, caption_noise)
            latents = scaled_latents(self.vae, data.pictures(samples))
            value = diffusion_loss(self.unet, self.text_encoder, self.scheduler, latents, tokens, generator, train_text,
                                   r.snr_gamma)
            return value, {}

        self._loop(stage, steps, optimizer, params, loss, after_step=average)

    def _loop(self, stage: str, steps: int, optimizer, params, loss_fn, after_step=None) -> None:
        """The shared optimisation loop: warm-up + cosine learning rate, clipping, logging, periodic saves."""
        r = self.recipe
        if self.optimizer_state is not None:
            optimizer.load_state_dict(self.optimizer_state)
            self.optimizer_state = None
        base_lrs = [g["lr"] for g in optimizer.param_groups]
        started, first = time.perf_counter(), self.step
        while self.step < steps:
            step_started = time.perf_counter()
            factor = learning_rate_factor(self.step, steps, r.warmup_steps)
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * factor
            loss, parts = loss_fn(self.step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, r.grad_clip)
            optimizer.step()
            if after_step is not None:
                after_step(self.step)
            self.step += 1
            self.history[stage].append(loss.item())
            self.step_seconds[stage].append(time.perf_counter() - step_started)
            if self.step % r.log_every == 0 or self.step == steps:
                pace = (time.perf_counter() - started) / (self.step - first)
                recent = self.history[stage][-r.log_every:]
                self._log_line(stage, pace, sum(recent) / len(recent), parts)
            if self.steps_left is not None:
                self.steps_left -= 1
                if self.steps_left <= 0 and self.step < steps:
                    self._save_state(optimizer)
                    raise StopTraining
            if self.step % r.save_every == 0 and self.step < steps:
                self._save_state(optimizer)
                if stage in ("unet", "noisy"):
                    self.save_checkpoint()
                    self._evaluate()
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base

    def _log_line(self, stage: str, pace: float, loss: float, parts: dict) -> None:
        extra = " ".join(f"{k} {v:.5f}" for k, v in parts.items())
        self.log(f"[{stage}] step {self.step} loss {loss:.5f} {extra} ({pace:.3f} s/step)".replace("  ", " "))
        self._append_log({"stage": stage, "step": self.step, "loss": loss, "s_per_step": pace, **parts})

    def _append_log(self, record: dict) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.work_dir / "log.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def _evaluate(self) -> None:
        """Score the checkpoint just written (--eval-count prompts, euler, 20 steps, at CFG 7 and without guidance)
        into the log."""
        if self.recipe.eval_count <= 0:
            return
        from tools.toymodel.quality import score

        for cfg in EVAL_CFGS:
            started = time.perf_counter()
            result = score(self.out, count=self.recipe.eval_count, cfg=cfg)
            self.log(f"[eval] step {self.step} CFG {cfg:g}: "
                     + ", ".join(f"{k} {v:.2f}" for k, v in result.items() if v is not None)
                     + f" ({time.perf_counter() - started:.0f} s)")
            self._append_log({"stage": "eval", "step": self.step, "cfg": cfg, **result})

    def _save_state(self, optimizer=None) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        state = {"recipe": self.recipe.to_dict(), "stage": self.stage, "step": self.step,
                 "normalisation": self.normalisation, "vae": self.vae.state_dict(), "unet": self.unet.state_dict(),
                 "text_encoder": self.text_encoder.state_dict(),
                 "ema": self.ema.state_dict() if self.ema is not None else None,
                 "optimizer": optimizer.state_dict() if optimizer is not None else None}
        partial = self.state_path.with_suffix(".partial")
        torch.save(state, partial)
        partial.replace(self.state_path)

    def resume(self) -> None:
        """Continue from the saved state in the work directory (same seed, size and batches required)."""
        if not self.state_path.is_file():
            raise FileNotFoundError(f"--resume: no saved state at {self.state_path}")
        state = torch.load(self.state_path, weights_only=True)
        mismatched = [k for k in RESUME_MUST_MATCH if state["recipe"][k] != getattr(self.recipe, k)]
        if mismatched:
            raise ValueError(f"--resume: {self.state_path} was trained with other settings for {mismatched}: "
                             f"{ {k: state['recipe'][k] for k in mismatched} }")
        self.vae.load_state_dict(state["vae"])
        self.unet.load_state_dict(state["unet"])
        self.text_encoder.load_state_dict(state["text_encoder"])
        self.stage, self.step = state["stage"], state["step"]
        self.optimizer_state, self.normalisation = state["optimizer"], state["normalisation"]
        if self.stage == "done" and state["recipe"].get("noisy_steps", 0) == 0 and self.recipe.noisy_steps > 0:
            # a run finished without stage 3 (or from before it existed) goes on into it
            self.stage, self.step, self.optimizer_state = "noisy", 0, None
        if self.stage != "vae":
            self._prepare_unet_stage()
            if state.get("ema") is not None and self.ema is not None:
                self.ema.load_state_dict(state["ema"])
        self.log(f"resumed at {self.stage} step {self.step}")

    def shipped_networks(self) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
        """(UNet, VAE, text encoder) as the checkpoint holds them: the weight averages when there are any."""
        if self.ema is None:
            return self.unet, self.vae, self.text_encoder
        return self.ema.averaged("unet", self.unet), self.vae, self.ema.averaged("text_encoder", self.text_encoder)

    def _stage_label(self) -> str:
        """Where the run is: "unet:3000", "noisy:500", or "done:6000+1500" (the stage 2 + stage 3 steps)."""
        if self.stage != "done":
            return f"{self.stage}:{self.step}"
        r = self.recipe
        return f"done:{r.unet_steps}" + (f"+{r.noisy_steps}" if r.noisy_steps else "")

    def save_checkpoint(self) -> Path:
        dtype = getattr(torch, self.recipe.save_dtype)
        metadata = {"diffloom_toymodel_recipe": json.dumps(self.recipe.to_dict()),
                    "diffloom_toymodel_stage": self._stage_label(),
                    "diffloom_toymodel_weights": "exponential average" if self.ema is not None else "last step"}
        unet, vae, text_encoder = self.shipped_networks()
        path = save_checkpoint(self.out, unet, vae, text_encoder, dtype=dtype, metadata=metadata)
        self.log(f"checkpoint written: {path}")
        return path


def learning_rate_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the base rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Recipe()
    parser = argparse.ArgumentParser(prog="python -m tools.toymodel.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/checkpoints/toy_shapes.safetensors"),
                        help="the single-file SD1-layout checkpoint to write")
    parser.add_argument("--work-dir", type=Path, default=Path("build/toymodel"),
                        help="training state (for --resume) and log.jsonl")
    parser.add_argument("--resume", action="store_true", help="continue from --work-dir/state.pt")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a shared CPU)")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="take at most this many steps in this call, save the state and stop (then --resume)")
    parser.add_argument("--text-encoder", choices=TEXT_ENCODER_MODES, default=defaults.text_encoder)
    for f in fields(Recipe):
        if f.name != "text_encoder":
            parser.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)),
                                default=getattr(defaults, f.name))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    recipe = Recipe(**{f.name: getattr(args, f.name) for f in fields(Recipe)})
    trainer = Trainer(recipe, args.out, args.work_dir, stop_after=args.stop_after)
    if args.resume:
        trainer.resume()
    trainer.log(f"VAE {models.parameter_count(trainer.vae) / 1e6:.2f}M, UNet "
                f"{models.parameter_count(trainer.unet) / 1e6:.2f}M, text encoder "
                f"{models.parameter_count(trainer.text_encoder) / 1e6:.2f}M parameters; recipe {recipe.to_dict()}")
    trainer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
