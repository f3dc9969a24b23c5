"""Sigma schedules: the nine scheduler names of spec §7.3, each a function of (model_sampling, steps)."""

from __future__ import annotations

import math
from typing import Callable

import torch

from runtime.sampling.names import SCHEDULER_NAMES


def append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. 2022 (EDM), eq. 5: evenly spaced in sigma^(1/rho)."""
    ramp = torch.linspace(0, 1, steps)
    min_inv_rho, max_inv_rho = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return append_zero((max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho)


def exponential_sigmas(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Evenly spaced in log sigma."""
    return append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), steps).exp())


def kl_optimal_sigmas(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Align Your Steps' KL-optimal schedule: evenly spaced in atan(sigma)."""
    # one step would divide by zero (ComfyUI returns NaN there); we take the single sigma at sigma_max instead
    ramp = torch.arange(steps, dtype=torch.float32) / max(steps - 1, 1)
    return append_zero((ramp * math.atan(sigma_min) + (1 - ramp) * math.atan(sigma_max)).tan())


def _timestep_spaced(model_sampling, steps: int, sgm: bool) -> torch.Tensor:
    """`normal` and `sgm_uniform`: sigmas at timesteps spaced linearly from the top of the table to the bottom."""
    start = float(model_sampling.timestep(torch.tensor(model_sampling.sigma_max)))
    end = float(model_sampling.timestep(torch.tensor(model_sampling.sigma_min)))
    with_zero = True
    if sgm:
        timesteps = torch.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(float(model_sampling.sigma(torch.tensor(end))), 0, abs_tol=1e-5):
            steps, with_zero = steps + 1, False
        timesteps = torch.linspace(start, end, steps)
    sigmas = torch.tensor([float(model_sampling.sigma(t)) for t in timesteps], dtype=torch.float32)
    return append_zero(sigmas) if with_zero else sigmas


def normal(model_sampling, steps: int) -> torch.Tensor:
    return _timestep_spaced(model_sampling, steps, sgm=False)


def sgm_uniform(model_sampling, steps: int) -> torch.Tensor:
    return _timestep_spaced(model_sampling, steps, sgm=True)


def simple(model_sampling, steps: int) -> torch.Tensor:
    """Every (N/steps)-th entry of the table, from the top."""
    table, stride = model_sampling.sigmas, len(model_sampling.sigmas) / steps
    # `k * stride` (not k*N/steps) keeps ComfyUI's float rounding at the int() boundaries
    return append_zero(torch.stack([table[-(1 + int(k * stride))] for k in range(steps)]).float())


def ddim_uniform(model_sampling, steps: int) -> torch.Tensor:
    """DDIM's uniform timestep spacing: table[1], table[1+s], ... reversed, ending in 0."""
    table = model_sampling.sigmas
    if math.isclose(float(table[1]), 0, abs_tol=1e-5):
        steps, head = steps + 1, []
    else:
        head = [0.0]
    stride = max(len(table) // steps, 1)
    values = head + [float(table[i]) for i in range(1, len(table), stride)]
    return torch.tensor(values[::-1], dtype=torch.float32)


def karras(model_sampling, steps: int) -> torch.Tensor:
    return karras_sigmas(steps, model_sampling.sigma_min, model_sampling.sigma_max)


def exponential(model_sampling, steps: int) -> torch.Tensor:
    return exponential_sigmas(steps, model_sampling.sigma_min, model_sampling.sigma_max)


def kl_optimal(model_sampling, steps: int) -> torch.Tensor:
    return kl_optimal_sigmas(steps, model_sampling.sigma_min, model_sampling.sigma_max)


def beta(model_sampling, steps: int, alpha: float = 0.6, beta_: float = 0.6) -> torch.Tensor:
    """Lee et al. 2024 ("Beta Sampling is All You Need"): timesteps at Beta(0.6, 0.6) quantiles."""
    import numpy
    from scipy.stats import beta as beta_distribution

    last_index = len(model_sampling.sigmas) - 1
    quantiles = 1 - numpy.linspace(0, 1, steps, endpoint=False)
    timesteps = numpy.rint(beta_distribution.ppf(quantiles, alpha, beta_) * last_index)
    values, previous = [], None
    for t in timesteps:
        if t != previous:  # repeated timesteps collapse, so the schedule may be shorter than steps + 1
            values.append(float(model_sampling.sigmas[int(t)]))
        previous = t
    return append_zero(torch.tensor(values, dtype=torch.float32))


def linear_quadratic(model_sampling, steps: int, threshold: float = 0.025) -> torch.Tensor:
    """Mochi's schedule: linear up to `threshold` for half the steps, then a quadratic reaching 1 at `steps`."""
    if steps == 1:
        fractions = [1.0, 0.0]
    else:
        linear_steps, quadratic_steps = steps // 2, steps - steps // 2
        slope = threshold / linear_steps
        # q(i) = a i² + b i + c with q(L) = threshold, q'(L) = slope (smooth join) and q(steps) = 1
        a = (linear_steps - threshold * steps) / (linear_steps * quadratic_steps ** 2)
        b = slope - 2 * a * linear_steps
        c = a * linear_steps ** 2
        noise = [i * slope for i in range(linear_steps)]
        noise += [a * i * i + b * i + c for i in range(linear_steps, steps)]
        fractions = [1.0 - s for s in noise + [1.0]]
    return torch.tensor(fractions, dtype=torch.float32) * model_sampling.sigma_max


SCHEDULERS: dict[str, Callable] = {
    "simple": simple, "sgm_uniform": sgm_uniform, "karras": karras, "exponential": exponential,
    "ddim_uniform": ddim_uniform, "beta": beta, "normal": normal, "linear_quadratic": linear_quadratic,
    "kl_optimal": kl_optimal,
}
assert tuple(SCHEDULERS) == SCHEDULER_NAMES


def calculate_sigmas(model_sampling, scheduler: str, steps: int) -> torch.Tensor:
    """The float32 CPU sigma schedule named `scheduler` for `steps` steps (normally steps + 1 values ending in 0)."""
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; expected one of {', '.join(SCHEDULER_NAMES)}")
    if steps < 1:
        raise ValueError(f"scheduler {scheduler!r}: steps must be at least 1, got {steps}")
    return SCHEDULERS[scheduler](model_sampling, int(steps)).float()


def sdturbo_sigmas(model_sampling, steps: int, denoise: float) -> torch.Tensor:
    """SD-Turbo's schedule: timesteps 999, 899, ... 99, starting later for partial denoise, then 0."""
    start = 10 - int(10 * denoise)
    timesteps = torch.flip(torch.arange(1, 11) * 100 - 1, (0,))[start:start + steps]
    return append_zero(model_sampling.sigma(timesteps).float())



def polyexponential_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> torch.Tensor:
    """k-diffusion's polyexponential schedule: log σ interpolated along ramp^rho (rho = 1: exponential)."""
    ramp = torch.linspace(1, 0, steps) ** rho
    return append_zero(torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min)))


def vp_sigmas(steps: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3) -> torch.Tensor:
    """The continuous VP-SDE schedule (Song et al. 2021): σ(t) = sqrt(exp(β_d t²/2 + β_min t) − 1), t from 1 to ε."""
    t = torch.linspace(1, eps_s, steps)
    return append_zero(torch.sqrt(torch.exp(beta_d * t ** 2 / 2 + beta_min * t) - 1))


def laplace_sigmas(steps: int, sigma_min: float, sigma_max: float, mu: float = 0.0, beta: float = 0.5) -> torch.Tensor:
    """Tiankai et al. 2024: log σ at Laplace(mu, beta) quantiles, clamped to [sigma_min, sigma_max].

    Like ComfyUI's, it has no final 0: sampling with it stops at the last (smallest) sigma."""
    x = torch.linspace(0, 1, steps)
    log_sigma = mu - beta * torch.sign(0.5 - x) * torch.log(1 - 2 * torch.abs(0.5 - x) + 1e-5)  # 1e-5: no log(0)
    return torch.clamp(torch.exp(log_sigma), min=sigma_min, max=sigma_max)
