"""The training recipe's settings in one place; train.py's flags fill it, the run saves it next to its state."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tools.toymodel.domain import DomainConfig

TEXT_ENCODER_MODES = ("train", "frozen")


@dataclass
class Recipe:
    seed: int = 0
    size: int = 32
    position_prob: float = 0.5  # share of captions that name the position
    # Stage 1, the VAE. The prototype reconstructed colours and backgrounds perfectly after 2700 steps of batch 16.
    vae_steps: int = 2700
    vae_batch: int = 16
    vae_lr: float = 1e-3
    kl_weight: float = 1e-6  # just enough to keep the posterior from drifting; reconstruction is what matters
    normalise_pictures: int = 1024  # pictures measured to rescale the latents to SD1's scale factor
    # Stage 2, the UNet (and the text encoder when trained).
    unet_steps: int = 6000
    unet_batch: int = 48
    unet_lr: float = 5e-4
    text_encoder: str = "train"
    text_lr: float = 2e-4
    caption_dropout: float = 0.1
    snr_gamma: float = 5.0  # Min-SNR loss weighting (train_unet.py); 0 gives the plain MSE of the prototype
    # Stage 3, loose captions: the UNet (and text encoder) go on training on captions whose colour, background
    # and shape words are each wrong with probability caption_noise, so that guidance has something to correct
    # (data.noisy_captions). 0 steps skips it.
    noisy_steps: int = 1500
    noisy_lr: float = 2e-4  # the UNet's; the text encoder's is scaled by text_lr / unet_lr
    caption_noise: float = 0.15
    ema_decay: float = 0.999  # the checkpoint ships this average of the UNet (and text encoder); 0 turns it off
    warmup_steps: int = 100
    grad_clip: float = 1.0
    save_every: int = 500
    eval_count: int = 0  # >0: score each UNet-stage checkpoint on this many prompts (tools/toymodel/quality.py)
    log_every: int = 25
    save_dtype: str = "float16"

    def __post_init__(self):
        if self.text_encoder not in TEXT_ENCODER_MODES:
            raise ValueError(f"Recipe: text_encoder must be one of {TEXT_ENCODER_MODES}, got {self.text_encoder!r}")
        if self.size % 4:
            raise ValueError(f"Recipe: size must be a multiple of 4 (the VAE downscale), got {self.size}")
        if not 0 <= self.caption_noise < 1:
            raise ValueError(f"Recipe: caption_noise must be in [0, 1), got {self.caption_noise}")
        if min(self.vae_batch, self.unet_batch) < 1 or min(self.vae_steps, self.unet_steps, self.noisy_steps) < 0:
            raise ValueError("Recipe: batch sizes must be at least 1 and step counts not negative")

    def domain(self) -> DomainConfig:
        return DomainConfig(size=self.size, position_prob=self.position_prob)

    def to_dict(self) -> dict:
        return asdict(self)
