"""The toy model's networks, tokenizer and noise schedule, configured so the checkpoint reads like an SD1.5 file."""

from __future__ import annotations

from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_DIRS = (REPO / "nodes" / "diffusion" / "tokenizer", Path("/work/shared/data/clip-tokenizer"))
CONTEXT_LENGTH = 77
BOS, EOS = 49406, 49407

# SD1's latent scale factor is kept, so the loader needs no toy-specific number; the VAE is normalised to it
# after training instead (see normalise_latents in train_vae.py).
LATENT_SCALE = 0.18215
# SD1.x noise schedule: scaled-linear betas, 1000 steps, epsilon prediction.
SCHEDULE = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "prediction_type": "epsilon"}

# 32x32 pictures, 4x downscale (three levels) to 8x8x4 latents. Four groups per GroupNorm: two channels per
# group wipes out flat colours.
VAE_CONFIG = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1,
    "down_block_types": ["DownEncoderBlock2D"] * 3, "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [16, 32, 64], "norm_num_groups": 4, "sample_size": 32,
}
# Head count and group count are SD1's (8 heads, 32 groups): the loader reads an SD1 UNet with exactly those.
UNET_CONFIG = {
    "sample_size": 8, "in_channels": 4, "out_channels": 4, "layers_per_block": 1,
    "block_out_channels": [64, 128, 128],
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "cross_attention_dim": 128, "attention_head_dim": 8, "norm_num_groups": 32,
}
# OpenAI-CLIP-style text tower (quick GELU, 64-wide heads), hidden 128, three layers.
TEXT_CONFIG = {
    "vocab_size": 49408, "hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 3,
    "num_attention_heads": 2, "max_position_embeddings": CONTEXT_LENGTH, "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5, "projection_dim": 128, "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": EOS,
}


def build_vae(seed: int):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(**VAE_CONFIG)


def build_unet(seed: int):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(**UNET_CONFIG)


def build_text_encoder(seed: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    return CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG))


def build_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULE)


def tokenizer_dir() -> Path:
    """The project's copy of the CLIP tokenizer files when present, else the shared one."""
    for directory in TOKENIZER_DIRS:
        if (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file():
            return directory
    raise FileNotFoundError(f"CLIP tokenizer files (vocab.json, merges.txt) not found in any of {TOKENIZER_DIRS}")


class CaptionTokenizer:
    """Captions to SD1 token ids: BOS, the BPE tokens, EOS, padded with EOS to 77 (as SD1 front ends do)."""

    def __init__(self):
        from transformers import CLIPTokenizer

        directory = tokenizer_dir()
        self._bpe = CLIPTokenizer(str(directory / "vocab.json"), str(directory / "merges.txt"))
        self._cache: dict[str, list[int]] = {}

    def ids(self, caption: str) -> list[int]:
        if caption not in self._cache:
            tokens = self._bpe(caption, add_special_tokens=False)["input_ids"][: CONTEXT_LENGTH - 2]
            self._cache[caption] = [BOS, *tokens] + [EOS] * (CONTEXT_LENGTH - 1 - len(tokens))
        return self._cache[caption]

    def __call__(self, captions: list[str]) -> torch.Tensor:
        return torch.tensor([self.ids(c) for c in captions], dtype=torch.long)


def encode_text(text_encoder, tokens: torch.Tensor) -> torch.Tensor:
    """The UNet's context: the last hidden state after the final layer norm, no attention mask (SD1's choice)."""
    return text_encoder(input_ids=tokens).last_hidden_state


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
