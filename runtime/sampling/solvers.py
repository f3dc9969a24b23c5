"""Samplers: one function per solver, `(denoiser, x, sigmas, extra) -> x`, in the k-diffusion formulation.

`denoiser(x, sigma)` returns the predicted clean latent for the noisy `x` at noise level `sigma` (a 0-d tensor);
`sigmas` is the decreasing noise schedule; `extra` carries the seed (for stochastic samplers), the per-step
callback and the model's sampling object. x is in "variance exploding" space (x = clean + sigma·noise), or, for
rectified-flow models (`extra.flow`, ComfyUI's CONST), x = (1 − σ)·clean + σ·noise. Deterministic solvers treat both
alike, as ComfyUI does; the ancestral and SDE solvers follow ComfyUI's flow variants there: the rectified-flow
ancestral step (`ancestral_step_rf`) and steps in half-log-SNR λ = log(α/σ) with α = 1 − σ. Read top to bottom,
this is the algorithm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from runtime.sampling.noise import BrownianTreeNoiseSampler, default_noise_sampler

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class SolverExtras:
    """What a solver may need besides the model: the seed for its own noise and the per-step callback."""

    seed: int | None = None
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None  # (step, x, denoised)
    # CFG++ samplers: the unconditional prediction of the latest denoiser call (set up by the sampling run)
    uncond_source: Callable[[], torch.Tensor] | None = None
    # the MODEL's model sampling; a rectified-flow one (prediction type "flow") changes the stochastic steps
    model_sampling: Any = None

    @property
    def flow(self) -> bool:
        return getattr(self.model_sampling, "prediction_type", None) == "flow"

    def renoise(self, sigma, noise: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`x` noised to `sigma` the model's way: x + σ·noise, or σ·noise + (1 − σ)·x for flow models."""
        return sigma * noise + (1.0 - sigma) * x if self.flow else x + sigma * noise

    def snr_sigmas(self, sigmas: torch.Tensor) -> torch.Tensor:
        """The schedule for solvers stepping in λ: a flow schedule starting at σ ≥ 1 (λ = −∞) starts a hair lower,
        at the model's sigma for 0.01% of the process, as in ComfyUI."""
        if self.flow and len(sigmas) > 1 and sigmas[0] >= 1:
            sigmas = sigmas.clone()
            sigmas[0] = self.model_sampling.percent_to_sigma(1e-4)
        return sigmas

    def uncond(self) -> torch.Tensor:
        if self.uncond_source is None:
            raise ValueError("this CFG++ sampler needs the unconditional prediction: run it with a CFG guider")
        return self.uncond_source()

    def step_done(self, i: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
        if self.callback is not None:
            self.callback(i, x, denoised)

    def noise(self, x: torch.Tensor):
        return default_noise_sampler(x, self.seed)

    def brownian(self, x: torch.Tensor, sigmas: torch.Tensor, cpu: bool = True):
        sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
        return BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=self.seed, cpu=cpu)


def to_d(x, sigma, denoised):
    """The probability-flow ODE derivative dx/dσ."""
    return (x - denoised) / sigma


def ancestral_step(sigma, sigma_next, eta=1.0):
    """Split a step σ → σ_next into a deterministic part down to σ_down and fresh noise of size σ_up."""
    if not eta:
        return sigma_next, 0.0
    up_squared = sigma_next ** 2 * (sigma ** 2 - sigma_next ** 2) / sigma ** 2
    sigma_up = min(float(sigma_next), eta * float(up_squared ** 0.5))
    sigma_up = torch.as_tensor(sigma_up, dtype=sigma.dtype, device=sigma.device)
    return (sigma_next ** 2 - sigma_up ** 2) ** 0.5, sigma_up


def ancestral_step_rf(sigma, sigma_next, eta=1.0):
    """The rectified-flow ancestral split of σ → σ_next (ComfyUI's RF samplers): step down to
    σ_down = σ_next·(1 + (σ_next/σ − 1)·η), then scale by α_next/α_down (α = 1 − σ) and add noise of size σ_up, so
    the result has noise level σ_next. Returns (σ_down, α_next/α_down, σ_up)."""
    sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)
    alpha_next, alpha_down = 1 - sigma_next, 1 - sigma_down
    sigma_up = (sigma_next ** 2 - sigma_down ** 2 * alpha_next ** 2 / alpha_down ** 2) ** 0.5
    return sigma_down, alpha_next / alpha_down, sigma_up


def t_of(sigma):
    """Log-SNR "time" of DPM-Solver: t = −ln σ."""
    return sigma.log().neg()


def sigma_of(t):
    return t.neg().exp()


def half_log_snr(sigma, flow: bool):
    """λ = log(α/σ): −ln σ (α = 1), or log((1 − σ)/σ) for rectified flow."""
    return sigma.logit().neg() if flow else sigma.log().neg()


def sigma_of_half_log_snr(lam, flow: bool):
    return lam.neg().sigmoid() if flow else lam.neg().exp()


def alpha_of(sigma, flow: bool):
    """The scale α of the clean latent in x at σ: 1, or 1 − σ for rectified flow."""
    return 1 - sigma if flow else 1.0


def rf_midpoint_sigma(sigma, sigma_down):
    """The second-order RF samplers' intermediate σ: halfway from σ to σ_down in λ (just below 1 when σ = 1)."""
    if sigma == 1.0:
        return sigma.new_tensor(0.9999)
    lam = half_log_snr(sigma, True)
    return sigma_of_half_log_snr(lam + (half_log_snr(sigma_down, True) - lam) / 2, True)


# --- first-order and Heun family -------------------------------------------------------------------------------

def euler(denoiser, x, sigmas, extra):
    """Euler method on the probability-flow ODE (Karras et al. 2022, Algorithm 2 without churn)."""
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        extra.step_done(i, x, denoised)
        x = x + to_d(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
    return x


def euler_ancestral(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral Euler (Song et al. 2021 / k-diffusion): Euler down to σ_down, then fresh noise of size σ_up."""
    if extra.flow:
        return euler_ancestral_rf(denoiser, x, sigmas, extra, eta, s_noise)
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        extra.step_done(i, x, denoised)
        if sigma_down == 0:
            x = denoised
        else:
            x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def euler_ancestral_rf(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral Euler for rectified flow (ComfyUI's RF variant): Euler down to σ_down, then back up to σ_next by
    rescaling and fresh noise (`ancestral_step_rf`)."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        extra.step_done(i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        sigma_down, rescale, sigma_up = ancestral_step_rf(sigmas[i], sigmas[i + 1], eta)
        ratio = sigma_down / sigmas[i]
        x = ratio * x + (1 - ratio) * denoised
        if eta > 0:
            x = rescale * x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def heun(denoiser, x, sigmas, extra):
    """Heun's second-order method (Karras et al. 2022, Algorithm 1); Euler on the last step to σ = 0."""
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        d = to_d(x, sigmas[i], denoised)
        extra.step_done(i, x, denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = x + d * dt
            continue
        x_2 = x + d * dt
        d_2 = to_d(x_2, sigmas[i + 1], denoiser(x_2, sigmas[i + 1]))
        x = x + (d + d_2) / 2 * dt
    return x


def heunpp2(denoiser, x, sigmas, extra):
    """Heun++ (Carzit's sd-webui-samplers-scheduler): three slopes weighted by σ/σ_0; Heun, then Euler at the end."""
    s_end = sigmas[-1]
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        d = to_d(x, sigmas[i], denoised)
        extra.step_done(i, x, denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == s_end:
            x = x + d * dt
            continue
        x_2 = x + d * dt
        d_2 = to_d(x_2, sigmas[i + 1], denoiser(x_2, sigmas[i + 1]))
        if sigmas[i + 2] == s_end:
            w2 = sigmas[i + 1] / (2 * sigmas[0])
            x = x + (d * (1 - w2) + d_2 * w2) * dt
            continue
        x_3 = x_2 + d_2 * (sigmas[i + 2] - sigmas[i + 1])
        d_3 = to_d(x_3, sigmas[i + 2], denoiser(x_3, sigmas[i + 2]))
        w2, w3 = sigmas[i + 1] / (3 * sigmas[0]), sigmas[i + 2] / (3 * sigmas[0])
        x = x + ((1 - w2 - w3) * d + w2 * d_2 + w3 * d_3) * dt
    return x


def _midpoint_sigma(sigma, sigma_next):
    return sigma.log().lerp(sigma_next.log(), 0.5).exp()


def dpm_2(denoiser, x, sigmas, extra):
    """DPM-Solver-2 (Lu et al. 2022) as a midpoint method in σ (Karras et al. 2022 variant)."""
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        d = to_d(x, sigmas[i], denoised)
        extra.step_done(i, x, denoised)
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigmas[i])
            continue
        sigma_mid = _midpoint_sigma(sigmas[i], sigmas[i + 1])
        x_2 = x + d * (sigma_mid - sigmas[i])
        x = x + to_d(x_2, sigma_mid, denoiser(x_2, sigma_mid)) * (sigmas[i + 1] - sigmas[i])
    return x


def dpm_2_ancestral(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral DPM-Solver-2: the midpoint step down to σ_down, then fresh noise of size σ_up (for rectified
    flow: ComfyUI's RF split, `ancestral_step_rf`, rescaling before the noise)."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        rescale = 1.0
        if extra.flow:
            sigma_down, rescale, sigma_up = ancestral_step_rf(sigmas[i], sigmas[i + 1], eta)
        else:
            sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        extra.step_done(i, x, denoised)
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
            continue
        sigma_mid = _midpoint_sigma(sigmas[i], sigma_down)
        x_2 = x + d * (sigma_mid - sigmas[i])
        x = x + to_d(x_2, sigma_mid, denoiser(x_2, sigma_mid)) * (sigma_down - sigmas[i])
        x = rescale * x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


# --- linear multistep ------------------------------------------------------------------------------------------

def lms_coefficient(order: int, sigmas: list[float], i: int, j: int) -> float:
    """∫ over [σ_i, σ_{i+1}] of the Lagrange basis polynomial of node σ_{i−j} through σ_i … σ_{i−order+1}."""
    import numpy

    nodes = [sigmas[i - k] for k in range(order)]
    basis = numpy.polynomial.Polynomial([1.0])
    for k, node in enumerate(nodes):
        if k != j:
            basis = basis * numpy.polynomial.Polynomial([-node, 1.0]) / (nodes[j] - node)
    antiderivative = basis.integ()
    return float(antiderivative(sigmas[i + 1]) - antiderivative(sigmas[i]))


def lms(denoiser, x, sigmas, extra, order=4):
    """Linear multistep (Adams–Bashforth in σ with exact Lagrange integrals, k-diffusion's LMS), up to 4th order."""
    sigma_list = sigmas.detach().cpu().double().tolist()
    slopes = []
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        slopes = (slopes + [to_d(x, sigmas[i], denoised)])[-order:]
        extra.step_done(i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        current = min(i + 1, order)
        coefficients = [lms_coefficient(current, sigma_list, i, j) for j in range(current)]
        x = x + sum(c * d for c, d in zip(coefficients, reversed(slopes)))
    return x


def ipndm(denoiser, x, sigmas, extra, max_order=4):
    """Improved PNDM (Zhang & Chen 2022, "Fast Sampling of Diffusion Models with Exponential Integrator"):
    Adams–Bashforth in σ with fixed coefficients of order up to 4."""
    history = []
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, sigma)
        extra.step_done(i, x, denoised)
        d = to_d(x, sigma, denoised)
        order = min(max_order, i + 1)
        if sigma_next == 0:
            x_next = denoised
        elif order == 1:
            x_next = x + (sigma_next - sigma) * d
        elif order == 2:
            x_next = x + (sigma_next - sigma) * (3 * d - history[-1]) / 2
        elif order == 3:
            x_next = x + (sigma_next - sigma) * (23 * d - 16 * history[-1] + 5 * history[-2]) / 12
        else:
            x_next = x + (sigma_next - sigma) * (55 * d - 59 * history[-1] + 37 * history[-2] - 9 * history[-3]) / 24
        history = (history + [d])[-(max_order - 1):]
        x = x_next
    return x


def _variable_ab_coefficients(h: list) -> list:
    """iPNDM-v: Adams–Bashforth weights for the current slope and up to three past ones, for unequal steps
    h = [h_n, h_{n−1}, …] (h_n the step about to be taken, the others the previous steps)."""
    if len(h) == 1:
        return [1.0]
    h_n, h_1 = h[0], h[1]
    c1, c2 = (2 + h_n / h_1) / 2, -(h_n / h_1) / 2
    if len(h) == 2:
        return [c1, c2]
    h_2 = h[2]
    temp1 = (1 - h_n / (3 * (h_n + h_1)) * (h_n * (h_n + h_1)) / (h_1 * (h_1 + h_2))) / 2
    if len(h) == 3:
        return [c1 + temp1, c2 - (1 + h_1 / h_2) * temp1, temp1 * h_1 / h_2]
    h_3 = h[3]
    temp2 = (((1 - h_n / (3 * (h_n + h_1))) / 2 + (1 - h_n / (2 * (h_n + h_1))) * h_n / (6 * (h_n + h_1 + h_2)))
             * (h_n * (h_n + h_1) * (h_n + h_1 + h_2)) / (h_1 * (h_1 + h_2) * (h_1 + h_2 + h_3)))
    ratio = h_1 * (h_1 + h_2) / (h_2 * (h_2 + h_3))
    return [c1 + temp1 + temp2,
            c2 - (1 + h_1 / h_2) * temp1 - (1 + h_1 / h_2 + ratio) * temp2,
            temp1 * h_1 / h_2 + (h_1 / h_2 + ratio * (1 + h_2 / h_3)) * temp2,
            -temp2 * ratio * h_1 / h_2]


def ipndm_v(denoiser, x, sigmas, extra, max_order=4):
    """iPNDM with variable step sizes (Zhang & Chen 2022; zju-pi/diff-sampler): Adams–Bashforth in σ whose
    weights follow the actual step ratios."""
    history = []
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, sigma)
        extra.step_done(i, x, denoised)
        d = to_d(x, sigma, denoised)
        if sigma_next == 0:
            x_next = denoised
        else:
            order = min(max_order, i + 1)
            steps = [sigma_next - sigma] + [sigmas[i - k] - sigmas[i - k - 1] for k in range(order - 1)]
            weights = _variable_ab_coefficients(steps)
            slope = weights[0] * d + sum(w * past for w, past in zip(weights[1:], reversed(history)))
            x_next = x + (sigma_next - sigma) * slope
        history = (history + [d])[-(max_order - 1):]
        x = x_next
    return x


def deis_coefficients(sigmas: torch.Tensor, max_order: int, n: int = 10000) -> list[list[torch.Tensor]]:
    """DEIS tAB coefficients (Zhang & Chen 2022): integrals of Lagrange polynomials in VP time against dσ/dt,
    on the VP-SDE whose σ range is EDM's (0.002, 80) with ε = 1e-3, by a left Riemann sum of `n` points."""
    eps_s, edm_min, edm_max = 1e-3, 0.002, 80.0
    beta_d = 2 * (math.log(edm_min ** 2 + 1) / eps_s - math.log(edm_max ** 2 + 1)) / (eps_s - 1)
    beta_min = math.log(edm_max ** 2 + 1) - 0.5 * beta_d
    sig = sigmas.detach().cpu().float()
    times = ((beta_min ** 2 + 2 * beta_d * (sig ** 2 + 1).log()).sqrt() - beta_min) / beta_d
    coefficients = []
    for i in range(len(times) - 1):
        order = min(i + 1, max_order)
        if order == 1:
            coefficients.append([])
            continue
        taus = torch.linspace(float(times[i]), float(times[i + 1]), n)
        dtau = (times[i + 1] - times[i]) / n
        # α(τ) = exp(−½τ²β_d − τβ_min); dσ/dτ = −½ (ln α)' / sqrt(α(1 − α))
        alpha = torch.exp(-0.5 * taus ** 2 * beta_d - taus * beta_min)
        dsigma = -0.5 * (-taus * beta_d - beta_min) / torch.sqrt(alpha * (1 - alpha))
        nodes = times[[i - k for k in range(order)]]
        row = []
        for j in range(order):
            basis = torch.ones_like(taus)
            for k in range(order):
                if k != j:
                    basis = basis * (taus - nodes[k]) / (nodes[j] - nodes[k])
            row.append(torch.sum(dsigma * basis) * dtau)
        coefficients.append(row)
    return coefficients


def deis(denoiser, x, sigmas, extra, max_order=3):
    """DEIS (Zhang & Chen 2022) multistep exponential integrator, tAB variant, order up to 3."""
    coefficients = deis_coefficients(sigmas, max_order)
    history = []
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, sigma)
        extra.step_done(i, x, denoised)
        d = to_d(x, sigma, denoised)
        order = 1 if sigma_next <= 0 else min(max_order, i + 1)
        if order == 1:
            x_next = x + (sigma_next - sigma) * d
        else:
            c = coefficients[i]
            x_next = x + c[0].to(x) * d + sum(c[k].to(x) * history[-k] for k in range(1, order))
        history = (history + [d])[-(max_order - 1):]
        x = x_next
    return x


# --- DPM-Solver and DPM-Solver++ -------------------------------------------------------------------------------

class _DPMSolver:
    """DPM-Solver (Lu et al. 2022) single steps of order 1–3 in t = −ln σ, on the model's ε prediction."""

    def __init__(self, denoiser):
        self.denoiser = denoiser

    def eps(self, cache, key, x, t):
        if key not in cache:
            cache[key] = (x - self.denoiser(x, sigma_of(t))) / sigma_of(t)
        return cache[key]

    def step_1(self, x, t, t_next, cache):
        h = t_next - t
        return x - sigma_of(t_next) * h.expm1() * self.eps(cache, "eps", x, t)

    def step_2(self, x, t, t_next, cache, r1=0.5):
        h = t_next - t
        eps = self.eps(cache, "eps", x, t)
        s1 = t + r1 * h
        u1 = x - sigma_of(s1) * (r1 * h).expm1() * eps
        eps_r1 = self.eps(cache, "eps_r1", u1, s1)
        return x - sigma_of(t_next) * h.expm1() * eps - sigma_of(t_next) / (2 * r1) * h.expm1() * (eps_r1 - eps)

    def step_3(self, x, t, t_next, cache, r1=1 / 3, r2=2 / 3):
        h = t_next - t
        eps = self.eps(cache, "eps", x, t)
        s1, s2 = t + r1 * h, t + r2 * h
        u1 = x - sigma_of(s1) * (r1 * h).expm1() * eps
        eps_r1 = self.eps(cache, "eps_r1", u1, s1)
        u2 = (x - sigma_of(s2) * (r2 * h).expm1() * eps
              - sigma_of(s2) * (r2 / r1) * ((r2 * h).expm1() / (r2 * h) - 1) * (eps_r1 - eps))
        eps_r2 = self.eps(cache, "eps_r2", u2, s2)
        return x - sigma_of(t_next) * h.expm1() * eps - sigma_of(t_next) / r2 * (h.expm1() / h - 1) * (eps_r2 - eps)

    def step(self, order, x, t, t_next, cache, low=False):
        if order == 1:
            return self.step_1(x, t, t_next, cache)
        if order == 2:
            return self.step_2(x, t, t_next, cache, r1=1 / 3 if low else 0.5)
        return self.step_3(x, t, t_next, cache)


def _end_sigmas(sigmas):
    """dpm_fast/dpm_adaptive only use the ends of the schedule; they stop at the last non-zero σ."""
    sigma_min = sigmas[-1] if sigmas[-1] > 0 else sigmas[-2]
    return sigmas[0], sigma_min


def dpm_fast(denoiser, x, sigmas, extra):
    """DPM-Solver-fast (Lu et al. 2022): steps of order 3 (then 2, 1) evenly spaced in log σ, len(sigmas) − 1 NFE."""
    if len(sigmas) <= 1:
        return x
    sigma_max, sigma_min = _end_sigmas(sigmas)
    nfe = len(sigmas) - 1
    solver = _DPMSolver(denoiser)
    m = math.ceil(nfe / 3)
    if nfe <= 3:
        orders = [nfe]  # one step of order nfe (k-diffusion would index past its grid for nfe = 3)
    elif nfe % 3 == 0:
        orders = [3] * (m - 2) + [2, 1]
    else:
        orders = [3] * (m - 1) + [nfe % 3]
    ts = torch.linspace(float(t_of(sigma_max)), float(t_of(sigma_min)), len(orders) + 1, device=x.device)
    for i, order in enumerate(orders):
        cache = {}
        eps = solver.eps(cache, "eps", x, ts[i])
        extra.step_done(i, x, x - sigma_of(ts[i]) * eps)
        x = solver.step(order, x, ts[i], ts[i + 1], cache)
    return x


class PIDStepSizeController:
    """PID step-size control (Söderlind 2003) as used by DPM-Solver's adaptive mode."""

    def __init__(self, h, pcoeff, icoeff, dcoeff, order, accept_safety, eps=1e-8):
        self.h = h
        self.b1 = (pcoeff + icoeff + dcoeff) / order
        self.b2 = -(pcoeff + 2 * dcoeff) / order
        self.b3 = dcoeff / order
        self.accept_safety, self.eps = accept_safety, eps
        self.errs = []

    def propose_step(self, error) -> bool:
        inv_error = 1 / (float(error) + self.eps)
        if not self.errs:
            self.errs = [inv_error] * 3
        self.errs[0] = inv_error
        factor = self.errs[0] ** self.b1 * self.errs[1] ** self.b2 * self.errs[2] ** self.b3
        factor = 1 + math.atan(factor - 1)
        accept = factor >= self.accept_safety
        if accept:
            self.errs[2], self.errs[1] = self.errs[1], self.errs[0]
        self.h *= factor
        return accept


def dpm_adaptive(denoiser, x, sigmas, extra, order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0.0,
                 icoeff=1.0, dcoeff=0.0, accept_safety=0.81, eta=0.0, s_noise=1.0):
    """DPM-Solver-12/23 with adaptive step size (Lu et al. 2022, §5): embedded pair error, PID control;
    eta > 0 makes each accepted step ancestral."""
    if len(sigmas) <= 1:
        return x
    if order not in (2, 3):
        raise ValueError(f"dpm_adaptive: order must be 2 or 3, got {order}")
    sigma_max, sigma_min = _end_sigmas(sigmas)
    solver = _DPMSolver(denoiser)
    noise = extra.noise(x) if eta else None
    s, t_end = t_of(sigma_max.to(x.device)), t_of(sigma_min.to(x.device))
    atol_t, rtol_t = torch.tensor(atol), torch.tensor(rtol)
    x_prev = x
    pid = PIDStepSizeController(h_init, pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
    step = 0
    while s < t_end - 1e-5:
        cache = {}
        t = torch.minimum(t_end, s + pid.h)
        t_, sigma_up = t, 0.0
        if eta:  # step deterministically to σ_down, then add noise of size sigma_up
            sigma_down, _ = ancestral_step(sigma_of(s), sigma_of(t), eta)
            t_ = torch.minimum(t_end, t_of(sigma_down))
            sigma_up = (sigma_of(t) ** 2 - sigma_of(t_) ** 2) ** 0.5
        eps = solver.eps(cache, "eps", x, s)
        denoised = x - sigma_of(s) * eps
        x_low = solver.step(order - 1, x, s, t_, cache, low=True)
        x_high = solver.step(order, x, s, t_, cache)
        delta = torch.maximum(atol_t, rtol_t * torch.maximum(x_low.abs(), x_prev.abs()))
        error = torch.linalg.norm((x_low - x_high) / delta) / x.numel() ** 0.5
        if pid.propose_step(error):
            x_prev, x = x_low, x_high
            if eta:
                x = x + sigma_up * s_noise * noise(sigma_of(s), sigma_of(t))
            s = t
        extra.step_done(step, x, denoised)
        step += 1
    return x


def dpmpp_2s_ancestral(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral DPM-Solver++(2S) (Lu et al. 2022b): a single-step second-order update to σ_down, then noise."""
    if extra.flow:
        return dpmpp_2s_ancestral_rf(denoiser, x, sigmas, extra, eta, s_noise)
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        extra.step_done(i, x, denoised)
        if sigma_down == 0:
            x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_next = t_of(sigmas[i]), t_of(sigma_down)
            h = t_next - t
            s = t + h / 2
            x_2 = (sigma_of(s) / sigma_of(t)) * x - (-h / 2).expm1() * denoised
            denoised_2 = denoiser(x_2, sigma_of(s))
            x = (sigma_of(t_next) / sigma_of(t)) * x - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def dpmpp_2s_ancestral_rf(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral DPM-Solver++(2S) for rectified flow (ComfyUI's RF variant): a midpoint (in λ) step down to σ_down,
    then back up to σ_next by rescaling and fresh noise (`ancestral_step_rf`)."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        sigma_down, rescale, sigma_up = ancestral_step_rf(sigmas[i], sigmas[i + 1], eta)
        extra.step_done(i, x, denoised)
        if sigmas[i + 1] == 0:
            x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            sigma_s = rf_midpoint_sigma(sigmas[i], sigma_down)
            ratio = sigma_s / sigmas[i]
            denoised_2 = denoiser(ratio * x + (1 - ratio) * denoised, sigma_s)
            ratio = sigma_down / sigmas[i]
            x = ratio * x + (1 - ratio) * denoised_2
        if sigmas[i + 1] > 0 and eta > 0:
            x = rescale * x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def dpmpp_sde(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0, r=0.5, cpu_tree=True):
    """DPM-Solver++ SDE (Lu et al. 2022b, stochastic single-step, midpoint r = 1/2) with Brownian-tree noise, in
    half-log-SNR λ (α = 1 − σ for rectified flow)."""
    if len(sigmas) <= 1:
        return x
    noise = extra.brownian(x, sigmas, cpu=cpu_tree)
    flow, fac = extra.flow, 1 / (2 * r)
    sigmas = extra.snr_sigmas(sigmas)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        extra.step_done(i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        lam, lam_next = half_log_snr(sigmas[i], flow), half_log_snr(sigmas[i + 1], flow)
        lam_mid = lam + r * (lam_next - lam)
        sigma_mid = sigma_of_half_log_snr(lam_mid, flow)
        alpha, alpha_mid, alpha_next = (alpha_of(s, flow) for s in (sigmas[i], sigma_mid, sigmas[i + 1]))
        # the ancestral split acts on σ/α = e^−λ
        sigma_down, sigma_up = ancestral_step(sigma_of(lam), sigma_of(lam_mid), eta)
        h = t_of(sigma_down) - lam
        x_2 = (alpha_mid / alpha) * (-h).exp() * x - alpha_mid * (-h).expm1() * denoised
        if eta > 0 and s_noise > 0:
            x_2 = x_2 + alpha_mid * noise(sigmas[i], sigma_mid) * s_noise * sigma_up
        denoised_2 = denoiser(x_2, sigma_mid)
        sigma_down, sigma_up = ancestral_step(sigma_of(lam), sigma_of(lam_next), eta)
        h = t_of(sigma_down) - lam
        denoised_d = (1 - fac) * denoised + fac * denoised_2
        x = (alpha_next / alpha) * (-h).exp() * x - alpha_next * (-h).expm1() * denoised_d
        if eta > 0 and s_noise > 0:
            x = x + alpha_next * noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def dpmpp_2m(denoiser, x, sigmas, extra):
    """DPM-Solver++(2M) (Lu et al. 2022b): second-order multistep in the data prediction."""
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        extra.step_done(i, x, denoised)
        t, t_next = t_of(sigmas[i]), t_of(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            x = (sigma_of(t_next) / sigma_of(t)) * x - (-h).expm1() * denoised
        else:
            r = (t - t_of(sigmas[i - 1])) / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (sigma_of(t_next) / sigma_of(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def dpmpp_2m_sde(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0, solver_type="midpoint", cpu_tree=True):
    """DPM-Solver++(2M) SDE (Lu et al. 2022b) with Brownian-tree noise; `midpoint` or `heun` correction; in
    half-log-SNR λ (α = 1 − σ for rectified flow)."""
    if len(sigmas) <= 1:
        return x
    noise = extra.brownian(x, sigmas, cpu=cpu_tree)
    flow = extra.flow
    sigmas = extra.snr_sigmas(sigmas)
    old_denoised, h_last = None, None
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        extra.step_done(i, x, denoised)
        h = None
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = half_log_snr(sigmas[i + 1], flow) - half_log_snr(sigmas[i], flow)
            eta_h = eta * h
            alpha_next = alpha_of(sigmas[i + 1], flow)
            phi = (-h - eta_h).expm1().neg()
            x = sigmas[i + 1] / sigmas[i] * (-eta_h).exp() * x + alpha_next * phi * denoised
            if old_denoised is not None:
                r = h_last / h
                if solver_type == "heun":
                    x = x + alpha_next * (phi / (-h - eta_h) + 1) * (1 / r) * (denoised - old_denoised)
                else:
                    x = x + 0.5 * alpha_next * phi * (1 / r) * (denoised - old_denoised)
            if eta:
                x = x + noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * (-2 * eta_h).expm1().neg().sqrt() * s_noise
        old_denoised, h_last = denoised, h
    return x


def dpmpp_3m_sde(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0, cpu_tree=True):
    """DPM-Solver++(3M) SDE: third-order multistep with Brownian-tree noise, in half-log-SNR λ (α = 1 − σ for
    rectified flow)."""
    if len(sigmas) <= 1:
        return x
    noise = extra.brownian(x, sigmas, cpu=cpu_tree)
    flow = extra.flow
    sigmas = extra.snr_sigmas(sigmas)
    denoised_1 = denoised_2 = None
    h_1 = h_2 = None
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        extra.step_done(i, x, denoised)
        h = None
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = half_log_snr(sigmas[i + 1], flow) - half_log_snr(sigmas[i], flow)
            h_eta = h * (eta + 1)
            alpha_next = alpha_of(sigmas[i + 1], flow)
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x + alpha_next * (-h_eta).expm1().neg() * denoised
            phi_2 = h_eta.neg().expm1() / h_eta + 1
            if h_2 is not None:
                r0, r1 = h_1 / h, h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                x = x + alpha_next * phi_2 * d1 - alpha_next * (phi_2 / h_eta - 0.5) * d2
            elif h_1 is not None:
                x = x + alpha_next * phi_2 * (denoised - denoised_1) / (h_1 / h)
            if eta:
                x = x + noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x


def res_multistep(denoiser, x, sigmas, extra, eta=0.0, s_noise=1.0, cfg_pp=False):
    """RES second-order multistep exponential integrator (Zhang et al. 2023, arXiv 2308.02157); with eta > 0 an
    ancestral variant, with cfg_pp the CFG++ variant (re-noising with the unconditional prediction)."""
    noise = extra.noise(x)
    old_denoised = old_sigma_down = None
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        guide = extra.uncond() if cfg_pp else denoised  # what the step moves along
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        extra.step_done(i, x, denoised)
        if sigma_down == 0 or old_denoised is None:
            if cfg_pp:
                x = denoised + to_d(x, sigmas[i], guide) * sigma_down
            else:
                x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_next = t_of(sigmas[i]), t_of(sigma_down)
            h = t_next - t
            c2 = (t_of(sigmas[i - 1]) - t_of(old_sigma_down)) / h
            phi1 = torch.expm1(-h) / -h
            phi2 = (phi1 - 1.0) / -h
            b1 = torch.nan_to_num(phi1 - phi2 / c2, nan=0.0)
            b2 = torch.nan_to_num(phi2 / c2, nan=0.0)
            if cfg_pp:
                x = x + (denoised - guide)
            x = sigma_of(h) * x + h * (b1 * guide + b2 * old_denoised)
        if sigmas[i + 1] > 0 and sigma_up:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
        old_denoised, old_sigma_down = guide, sigma_down
    return x


def gradient_estimation(denoiser, x, sigmas, extra, ge_gamma=2.0, cfg_pp=False):
    """Gradient estimation (Permenter & Yuan 2024, "Interpreting and Improving Diffusion Models from an
    Optimization Perspective"): Euler with the slope extrapolated from the previous one by γ = 2."""
    old_d = None
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        d = to_d(x, sigmas[i], extra.uncond() if cfg_pp else denoised)
        extra.step_done(i, x, denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            x = denoised + d * sigmas[i + 1] if cfg_pp else x + d * dt
            if old_d is not None:
                x = x + (ge_gamma - 1) * (d - old_d) * dt
        old_d = d
    return x


# --- DDPM, LCM ------------------------------------------------------------------------------------------------

def ddpm(denoiser, x, sigmas, extra):
    """Ancestral DDPM step (Ho et al. 2020) in ᾱ space, the model's ε from the denoised prediction."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, sigma)
        extra.step_done(i, x, denoised)
        eps = (x - denoised) / sigma
        x_vp = x / torch.sqrt(1.0 + sigma ** 2.0)
        abar, abar_next = 1 / (sigma * sigma + 1), 1 / (sigma_next * sigma_next + 1)
        alpha = abar / abar_next
        x = (1.0 / alpha).sqrt() * (x_vp - (1 - alpha) * eps / (1 - abar).sqrt())
        if sigma_next > 0:
            x = x + ((1 - alpha) * (1.0 - abar_next) / (1.0 - abar)).sqrt() * noise(sigma, sigma_next)
            x = x * torch.sqrt(1.0 + sigma_next ** 2.0)
    return x


def lcm(denoiser, x, sigmas, extra):
    """Latent Consistency Model sampling (Luo et al. 2023): jump to the prediction, re-noise to the next σ the
    model's way (`extra.renoise`)."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        extra.step_done(i, x, denoised)
        x = denoised
        if sigmas[i + 1] > 0:
            x = extra.renoise(sigmas[i + 1], noise(sigmas[i], sigmas[i + 1]), x)
    return x
