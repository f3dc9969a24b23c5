"""CFG++ samplers (Chung et al. 2024, "CFG++: Manifold-constrained Classifier Free Guidance"): each step moves
along the guided prediction but re-noises with the unconditional one (`extra.uncond()`), so low CFG scales work."""

from __future__ import annotations

from runtime.sampling.solvers import ancestral_step, sigma_of, t_of, to_d


def euler_cfg_pp(denoiser, x, sigmas, extra):
    """Euler, CFG++."""
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        d = to_d(x, sigmas[i], extra.uncond())
        extra.step_done(i, x, denoised)
        x = denoised + d * sigmas[i + 1]
    return x


def euler_ancestral_cfg_pp(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral Euler, CFG++."""
    noise = extra.noise(x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i])
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        d = to_d(x, sigmas[i], extra.uncond())
        extra.step_done(i, x, denoised)
        x = denoised + d * sigma_down
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def dpmpp_2s_ancestral_cfg_pp(denoiser, x, sigmas, extra, eta=1.0, s_noise=1.0):
    """Ancestral DPM-Solver++(2S), CFG++."""
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
