"""Noise as ComfyUI draws it: the seeded initial latent noise, the NOISE values, per-step sampler noise and
Brownian-tree noise."""

from __future__ import annotations

from typing import Callable

import warnings

import torch

NoiseSampler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def prepare_noise(latent: torch.Tensor, seed: int, batch_index: list[int] | None = None) -> torch.Tensor:
    """Initial noise for `latent` from a CPU generator seeded with `seed`.

    With `batch_index`, one [1, C, H, W] sample is drawn per index 0..max(index) in order and the listed ones are
    kept, so image k of a batch gets the noise it would get when generated alone at batch index k.
    """
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    if batch_index is None:
        return torch.randn(latent.size(), dtype=latent.dtype, layout=latent.layout, generator=generator,
                           device="cpu")
    wanted = sorted(set(int(i) for i in batch_index))
    drawn = {}
    for i in range(wanted[-1] + 1):
        sample = torch.randn([1, *latent.shape[1:]], dtype=latent.dtype, layout=latent.layout, generator=generator,
                             device="cpu")
        if i in wanted:
            drawn[i] = sample
    return torch.cat([drawn[int(i)] for i in batch_index], dim=0)


class SeededNoise:
    """A NOISE value (the RandomNoise node's): initial noise for a seed, drawn as KSampler draws it."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generate_noise(self, latent: dict) -> torch.Tensor:
        return prepare_noise(latent["samples"], self.seed, latent.get("batch_index"))


class ZeroNoise:
    """A NOISE value (the DisableNoise node's): zeros, seed 0 (sampling continues from the latent as it is)."""

    seed = 0

    def generate_noise(self, latent: dict) -> torch.Tensor:
        samples = latent["samples"]
        return torch.zeros(samples.shape, dtype=samples.dtype, layout=samples.layout, device="cpu")


def default_noise_sampler(x: torch.Tensor, seed: int | None) -> NoiseSampler:
    """Fresh Gaussian noise per step from a generator on x's device (seed + 1 on the CPU, so it differs from the
    initial noise drawn with `seed`)."""
    generator = None
    if seed is not None:
        generator = torch.Generator(device=x.device)
        generator.manual_seed(int(seed) + 1 if x.device.type == "cpu" else int(seed))

    def sample(sigma, sigma_next):
        return torch.randn(x.size(), dtype=x.dtype, layout=x.layout, device=x.device, generator=generator)
    return sample


class BrownianTreeNoiseSampler:
    """Brownian-tree noise (torchsde), so SDE samplers see consistent noise whatever the step sizes.

    Returns (W(σ_next) − W(σ)) / sqrt(|σ_next − σ|), a unit Gaussian. The tree lives on the CPU unless `cpu` is
    False (the `_gpu` sampler twins), which changes the numbers.
    """

    def __init__(self, x: torch.Tensor, sigma_min, sigma_max, seed: int | None, cpu: bool = True):
        import torchsde

        self.cpu = cpu
        t0, t1 = sorted((torch.as_tensor(sigma_min), torch.as_tensor(sigma_max)), key=float)
        w0 = torch.zeros_like(x)
        if seed is None:
            seed = int(torch.randint(0, 2 ** 63 - 1, ()).item())
        if cpu:
            t0, w0, t1 = t0.detach().cpu(), w0.detach().cpu(), t1.detach().cpu()
        self.sign = 1 if float(sigma_min) <= float(sigma_max) else -1
        self.tree = torchsde.BrownianTree(t0, w0, t1, entropy=int(seed))

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        sigma, sigma_next = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        device, dtype = sigma.device, sigma.dtype
        sign = 1 if float(sigma) <= float(sigma_next) else -1
        t0, t1 = sorted((sigma, sigma_next), key=float)
        if self.cpu:
            t0, t1 = t0.detach().cpu().float(), t1.detach().cpu().float()
        with warnings.catch_warnings():
            # σ recomputed through exp(−ln σ) can fall a float32 ulp outside the tree's span; harmless
            warnings.filterwarnings("ignore", message="Should have t")
            w = self.tree(t0, t1).to(device=device, dtype=dtype) * (self.sign * sign)
        return w / (t1 - t0).abs().sqrt().to(device=device, dtype=dtype)
