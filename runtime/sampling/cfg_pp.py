"""CFG++ samplers (Chung et al. 2024, "CFG++: Manifold-constrained Classifier Free Guidance"): each step moves
along the guided prediction but re-noises with the unconditional one (`extra.uncond()`), so low CFG scales work.
For rectified-flow models (`extra.flow`) the Euler pair scales by α = 1 − σ and ancestral DPM++(2S) takes ComfyUI's
RF step, as in ComfyUI."""

from __future__ import annotations

from runtime.sampling.solvers import (alpha_of, ancestral_step, ancestral_step_rf, rf_midpoint_sigma, sigma_of,
                                      t_of, to_d)


def euler_cfg_pp(denoiser, x, sigmas, extra):
    """Euler, CFG++."""
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        d = to_d(x, sigmas[i], alpha_of(sigmas[i], extra.flow) * extra.uncond())
        extra.step_done(i, x, denoised)
        x = alpha_of(sigmas[i + 1], extra.flow) * denoised + d * sigmas[i + 1]
    return x


def euler_ancestral_cfg_pp(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral Euler, CFG++; the ancestral split acts on σ/α."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        alpha, alpha_next = alpha_of(sigmas[i], extra.flow), alpha_of(sigmas[i + 1], extra.flow)
        sigma_down, sigma_up = ancestral_step(sigmas[i] / alpha, sigmas[i + 1] / alpha_next, eta)
        d = to_d(x, sigmas[i], alpha * extra.uncond())
        extra.step_done(i, x, denoised)
        x = alpha_next * denoised + d * alpha_next * sigma_down
        if sigmas[i + 1] > 0:
            x = x + alpha_next * noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def dpmpp_2s_ancestral_cfg_pp(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral DPM-Solver++(2S), CFG++."""
    if extra.flow:
        return dpmpp_2s_ancestral_rf_cfg_pp(denoiser, x, sigmas, extra, eta, s_noise)
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        uncond = extra.uncond()
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        extra.step_done(i, x, denoised)
        if sigma_down == 0:
            x = denoised + to_d(x, sigmas[i], uncond) * sigma_down
        else:
            t, t_next = t_of(sigmas[i]), t_of(sigma_down)
            h = t_next - t
            s = t + h / 2
            shifted = x + (denoised - uncond)
            x_2 = (sigma_of(s) / sigma_of(t)) * shifted - (-h / 2).expm1() * denoised
            denoised_2 = denoiser(x_2, sigma_of(s))
            x = (sigma_of(t_next) / sigma_of(t)) * shifted - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def dpmpp_2s_ancestral_rf_cfg_pp(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral DPM-Solver++(2S), CFG++, for rectified flow (ComfyUI's RF variant): the RF step along the
    unconditional prediction, then the guidance (cond − uncond)·α_next added back."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        uncond = extra.uncond()
        sigma_down, rescale, sigma_up = ancestral_step_rf(sigmas[i], sigmas[i + 1], eta)
        extra.step_done(i, x, denoised)
        if sigmas[i + 1] == 0:
            x = x + to_d(x, sigmas[i], uncond) * (sigma_down - sigmas[i])
        else:
            sigma_s = rf_midpoint_sigma(sigmas[i], sigma_down)
            ratio = sigma_s / sigmas[i]
            denoiser(ratio * x + (1 - ratio) * uncond, sigma_s)  # only its unconditional prediction is used
            ratio = sigma_down / sigmas[i]
            x = ratio * x + (1 - ratio) * extra.uncond()
        if sigmas[i + 1] > 0 and eta > 0:
            x = rescale * x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
        x = x + (1 - sigmas[i + 1]) * (denoised - uncond)
    return x


def dpmpp_2m_cfg_pp(denoiser, x, sigmas, extra):
    """DPM-Solver++(2M), CFG++."""
    old_uncond = None
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        uncond = extra.uncond()
        extra.step_done(i, x, denoised)
        t, t_next = t_of(sigmas[i]), t_of(sigmas[i + 1])
        h = t_next - t
        mix = -(-h).exp() * uncond
        if old_uncond is not None and sigmas[i + 1] != 0:
            r = (t - t_of(sigmas[i - 1])) / h
            mix = mix - (-h).expm1() * (1 / (2 * r)) * (denoised - old_uncond)
        x = denoised + mix + (-h).exp() * x
        old_uncond = uncond
    return x
