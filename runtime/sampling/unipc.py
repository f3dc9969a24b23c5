"""UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework"), multistep, data prediction, B(h) bh1/bh2.

Run as ComfyUI runs it: in variance-preserving space with "time" = σ, order min(3, steps − 1), lower orders at the
start and the end, the corrector after every step but the last, and the final σ = 0 replaced by 0.001.
"""

from __future__ import annotations

import torch


def _log_alpha(sigma):
    return 0.5 * torch.log(1 / (sigma * sigma + 1))


def _alpha(sigma):
    return torch.exp(_log_alpha(sigma))


def _std(sigma):
    return torch.sqrt(1.0 - torch.exp(2.0 * _log_alpha(sigma)))


def _lambda(sigma):
    """Half log-SNR, computed like ComfyUI (in the schedule's float32) so the steps match."""
    log_alpha = _log_alpha(sigma)
    return log_alpha - 0.5 * torch.log(1.0 - torch.exp(2.0 * log_alpha))


def _update(model, x, times, predictions, t, order, variant, use_corrector):
    """One UniPC step from times[-1] to t: predictor of `order`, then (optionally) the corrector UniC."""
    t_prev, d_prev = times[-1], predictions[-1]
    h = _lambda(t) - _lambda(t_prev)
    rks, d1s = [], []
    for i in range(1, order):
        rk = (_lambda(times[-(i + 1)]) - _lambda(t_prev)) / h
        rks.append(rk)
        d1s.append((predictions[-(i + 1)] - d_prev) / rk)
    rks = torch.tensor([float(r) for r in rks] + [1.0])
    hh = -h
    h_phi_1 = torch.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1
    b_h = hh if variant == "bh1" else torch.expm1(hh)
    rows, b, factorial = [], [], 1
    for i in range(1, order + 1):
        rows.append(torch.pow(rks, i - 1))
        b.append(float(h_phi_k * factorial / b_h))
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    r_matrix, b = torch.stack(rows), torch.tensor(b)
    alpha_t = _alpha(t)
    x_base = _std(t) / _std(t_prev) * x - alpha_t * h_phi_1 * d_prev
    if d1s:
        rhos_p = torch.tensor([0.5]) if order == 2 else torch.linalg.solve(r_matrix[:-1, :-1], b[:-1])
        x_t = x_base - alpha_t * b_h * sum(float(r) * d for r, d in zip(rhos_p, d1s))
    else:
        x_t = x_base
    if not use_corrector:
        return x_t, None
    rhos_c = torch.tensor([0.5]) if order == 1 else torch.linalg.solve(r_matrix, b)
    d_t = model(x_t, t)
    correction = sum(float(r) * d for r, d in zip(rhos_c[:-1], d1s)) if d1s else 0
    return x_base - alpha_t * b_h * (correction + float(rhos_c[-1]) * (d_t - d_prev)), d_t


def uni_pc(denoiser, x, sigmas, extra, variant="bh1"):
    """UniPC-p with UniC (bh1: B(h) = h, bh2: B(h) = e^h − 1)."""
    times = sigmas.clone()
    if times[-1] == 0:
        times[-1] = 0.001
    steps = len(times) - 1
    if steps < 1:
        return x
    order = max(1, min(3, steps - 1))

    def model(x_vp, t):  # the data prediction seen from variance-preserving space
        return denoiser(x_vp * (t * t + 1.0) ** 0.5, t)

    x = x / torch.sqrt(1.0 + times[0] ** 2.0)
    history_t, history_d = [times[0]], [model(x, times[0])]
    extra.step_done(0, x, history_d[-1])
    for k in range(1, steps + 1):
        step_order = k if k < order else min(order, steps + 1 - k)
        x, d_k = _update(model, x, history_t, history_d, times[k], step_order, variant, use_corrector=k < steps)
        if d_k is not None:
            history_t, history_d = (history_t + [times[k]])[-order:], (history_d + [d_k])[-order:]
        if k < steps - 1 or k == steps:
            extra.step_done(min(k, steps - 1), x, history_d[-1])
    return x / _alpha(times[-1])


def uni_pc_bh2(denoiser, x, sigmas, extra):
    return uni_pc(denoiser, x, sigmas, extra, variant="bh2")
