"""Model sampling: the sigma table, sigma<->timestep, how the network's output becomes a denoised latent and the
initial noise scaling (spec §7.2; families.md §0.2). A MODEL carries one as `model.model_sampling`.

`DiscreteSampling` (and LCM's `DistilledDiscreteSampling`) serve discrete-time models (SD1.x/SD2.x/SDXL: eps, v,
x0, lcm); `FlowSampling` (ComfyUI's discrete flow, SD3/AuraFlow/…) and `FluxSampling` (the Flux exp-shift schedule)
serve rectified-flow models, whose prediction type is "flow" (ComfyUI's CONST)."""

from __future__ import annotations

import math

import torch

PREDICTION_TYPES = ("eps", "v", "x0", "lcm")
FLOW = "flow"  # the prediction type of rectified-flow models: the network predicts the velocity noise − clean
LCM_SIGMA_DATA, LCM_TIMESTEP_SCALE = 0.5, 10.0  # the consistency-model boundary condition of LCM


def scaled_linear_sigmas(linear_start: float, linear_end: float, timesteps: int) -> torch.Tensor:
    """LDM's "linear" beta schedule (linear in sqrt(beta)) as float64 sigmas = sqrt((1 - abar) / abar)."""
    betas = torch.linspace(linear_start ** 0.5, linear_end ** 0.5, timesteps, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    return ((1.0 - alphas_cumprod) / alphas_cumprod) ** 0.5


def rescale_zero_terminal_snr(sigmas: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2023 ("Common Diffusion Noise Schedules and Sample Steps are Flawed"): make the last SNR ~0."""
    alphas_bar_sqrt = (1.0 / (sigmas * sigmas + 1.0)).sqrt()
    first, last = alphas_bar_sqrt[0].clone(), alphas_bar_sqrt[-1].clone()
    alphas_bar_sqrt = (alphas_bar_sqrt - last) * first / (first - last)
    alphas_bar = alphas_bar_sqrt ** 2
    alphas_bar[-1] = 4.8973451890853435e-08  # keeps the terminal sigma finite (~4500), as ComfyUI does
    return ((1.0 - alphas_bar) / alphas_bar) ** 0.5


class SigmaTable:
    """A model sampling's table of sigmas, lowest first: its length and its ends."""

    sigmas: torch.Tensor

    @property
    def num_timesteps(self) -> int:
        return len(self.sigmas)

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])


class DiscreteSampling(SigmaTable):
    """The 1000-entry sigma table of a discrete-time (DDPM-trained) model and its eps/v parameterisation."""

    sigma_data = 1.0

    def __init__(self, prediction_type: str = "eps", linear_start: float = 0.00085, linear_end: float = 0.012,
                 timesteps: int = 1000, zsnr: bool = False):
        """`prediction_type`: "eps", "v", "x0" (the UNet predicts the clean latent) or "lcm" (latent consistency
        models; normally with DistilledDiscreteSampling)."""
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"DiscreteSampling: prediction_type must be one of {PREDICTION_TYPES}, "
                             f"got {prediction_type!r}")
        self.prediction_type = prediction_type
        self.linear_start, self.linear_end, self.zsnr = linear_start, linear_end, zsnr
        self.train_timesteps = timesteps
        sigmas = scaled_linear_sigmas(linear_start, linear_end, timesteps)
        if zsnr:
            sigmas = rescale_zero_terminal_snr(sigmas)
        # ComfyUI stores the table and its logs as float32; timestep()/sigma() interpolate in that precision.
        self.sigmas = sigmas.float()
        self.log_sigmas = sigmas.log().float()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(prediction_type={self.prediction_type!r}, linear_start={self.linear_start}, "
                f"linear_end={self.linear_end}, timesteps={self.train_timesteps}, zsnr={self.zsnr})")

    def timestep(self, sigma: torch.Tensor | float) -> torch.Tensor:
        """Index (0..N-1, as a tensor shaped like `sigma`) of the table entry nearest in log-sigma."""
        sigma = torch.as_tensor(sigma, dtype=torch.float32)
        dists = sigma.log().to(self.log_sigmas.device).reshape(-1) - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape).to(sigma.device)

    def sigma(self, timestep: torch.Tensor | float) -> torch.Tensor:
        """Sigma at a fractional timestep: log-linear interpolation in the table, t clamped to [0, N-1]."""
        timestep = torch.as_tensor(timestep)
        t = timestep.float().clamp(0, self.num_timesteps - 1)
        low, high, w = t.floor().long(), t.ceil().long(), t.frac()
        log_sigma = (1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]
        return log_sigma.exp().to(timestep.device)

    def percent_to_sigma(self, percent: float) -> float:
        """Sigma at a fraction of the sampling process (0 = start, 1 = end), with ComfyUI's open ends."""
        if percent <= 0.0:
            return 999999999.9
        if percent >= 1.0:
            return 0.0
        # the training timestep axis (0..999), also for distilled tables whose sigma() maps it onto theirs
        return float(self.sigma(torch.tensor((1.0 - percent) * (self.train_timesteps - 1))))

    @staticmethod
    def _per_sample(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        return sigma.reshape(sigma.shape[:1] + (1,) * (x.ndim - 1)) if sigma.ndim else sigma

    def calculate_input(self, sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        """The UNet input for noisy `x` at `sigma`: x / sqrt(sigma^2 + 1) (same for eps and v)."""
        sigma = self._per_sample(sigma, x)
        return x / (sigma * sigma + self.sigma_data ** 2) ** 0.5

    def calculate_denoised(self, sigma: torch.Tensor | float, model_output: torch.Tensor,
                           x: torch.Tensor) -> torch.Tensor:
        """The predicted clean latent from the raw UNet output (eps or v) and the noisy input `x`."""
        if self.prediction_type == "x0":
            return model_output
        if self.prediction_type == "lcm":
            return self._lcm_denoised(sigma, model_output, x)
        sigma = self._per_sample(sigma, model_output)
        if self.prediction_type == "eps":
            return x - model_output * sigma
        variance = sigma * sigma + self.sigma_data ** 2
        return x * self.sigma_data ** 2 / variance - model_output * sigma * self.sigma_data / variance ** 0.5

    def _lcm_denoised(self, sigma, model_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """LCM's boundary condition: blend the eps prediction with the input by the (scaled) timestep."""
        timestep = self.timestep(torch.as_tensor(sigma, dtype=torch.float32).reshape(-1)).to(model_output)
        timestep = timestep.reshape(timestep.shape[:1] + (1,) * (model_output.ndim - 1)) * LCM_TIMESTEP_SCALE
        x0 = x - model_output * self._per_sample(sigma, model_output)
        c_skip = LCM_SIGMA_DATA ** 2 / (timestep ** 2 + LCM_SIGMA_DATA ** 2)
        c_out = timestep / (timestep ** 2 + LCM_SIGMA_DATA ** 2) ** 0.5
        return c_out * x0 + c_skip * x

    def noise_scaling(self, sigma: float, noise: torch.Tensor, latent: torch.Tensor,
                      max_denoise: bool) -> torch.Tensor:
        """The starting point: latent + noise·σ, or noise·sqrt(1 + σ²) when starting from pure noise."""
        scale = math.sqrt(1.0 + sigma * sigma) if max_denoise else sigma
        return latent + noise * scale

    def inverse_noise_scaling(self, sigma: float, latent: torch.Tensor) -> torch.Tensor:
        return latent

    def is_max_denoise(self, first_sigma: float) -> bool:
        """Whether sampling starts at (or above) the top of the table, i.e. from pure noise."""
        return math.isclose(first_sigma, self.sigma_max, rel_tol=1e-05) or first_sigma > self.sigma_max


class DistilledDiscreteSampling(DiscreteSampling):
    """The table of a model distilled to 50 timesteps (LCM): every 20th sigma, timesteps 19, 39, …, 999."""

    original_timesteps = 50

    def __init__(self, prediction_type: str = "lcm", linear_start: float = 0.00085, linear_end: float = 0.012,
                 timesteps: int = 1000, zsnr: bool = False):
        super().__init__(prediction_type, linear_start, linear_end, timesteps, zsnr)
        self.skip_steps = timesteps // self.original_timesteps
        keep = torch.arange(timesteps - 1, -1, -self.skip_steps)[:self.original_timesteps].flip(0)
        self.sigmas = self.sigmas[keep].clone()
        self.log_sigmas = self.log_sigmas[keep].clone()

    def timestep(self, sigma: torch.Tensor | float) -> torch.Tensor:
        return super().timestep(sigma) * self.skip_steps + (self.skip_steps - 1)

    def sigma(self, timestep: torch.Tensor | float) -> torch.Tensor:
        timestep = torch.as_tensor(timestep)
        return super().sigma((timestep.float() - (self.skip_steps - 1)) / self.skip_steps).to(timestep.device)


def time_snr_shift(shift: float, t):
    """SD3's timestep shift (Esser et al. 2024, eq. 23): t ↦ shift·t / (1 + (shift − 1)·t); a float or tensor."""
    if shift == 1.0:
        return t
    return shift * t / (1 + (shift - 1) * t)


def flux_time_shift(mu: float, t):
    """Flux's exponential shift of t ∈ (0, 1]: e^μ / (e^μ + (1/t − 1)); a float or tensor."""
    return math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** 1.0)


class FlowPrediction(SigmaTable):
    """What every rectified-flow model sampling shares (ComfyUI's CONST): x_σ = σ·noise + (1 − σ)·clean, the network
    sees x unscaled and predicts the velocity v = noise − clean, so clean = x − σ·v. Subclasses set `sigmas` (the
    increasing table) and define `shifted(u)`: the sigma at the fraction u ∈ (0, 1] of the noise axis."""

    prediction_type = FLOW
    sigmas: torch.Tensor

    def shifted(self, u):
        raise NotImplementedError

    def percent_to_sigma(self, percent: float) -> float:
        """Sigma at a fraction of the sampling process: 1.0 at the start (p ≤ 0), 0 at the end (p ≥ 1)."""
        if percent <= 0.0:
            return 1.0
        if percent >= 1.0:
            return 0.0
        return float(self.shifted(1.0 - percent))

    def calculate_input(self, sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        return x

    def calculate_denoised(self, sigma: torch.Tensor | float, model_output: torch.Tensor,
                           x: torch.Tensor) -> torch.Tensor:
        return x - model_output * DiscreteSampling._per_sample(sigma, model_output)

    def noise_scaling(self, sigma, noise: torch.Tensor, latent: torch.Tensor,
                      max_denoise: bool = False) -> torch.Tensor:
        """The latent noised to σ: σ·noise + (1 − σ)·latent (pure noise at σ = 1, whatever `max_denoise` says)."""
        sigma = DiscreteSampling._per_sample(sigma, noise) if torch.is_tensor(sigma) else sigma
        return sigma * noise + (1.0 - sigma) * latent

    def inverse_noise_scaling(self, sigma: float, latent: torch.Tensor) -> torch.Tensor:
        return latent / (1.0 - sigma)

    def is_max_denoise(self, first_sigma: float) -> bool:
        return math.isclose(first_sigma, self.sigma_max, rel_tol=1e-05) or first_sigma > self.sigma_max


class FlowSampling(FlowPrediction):
    """ComfyUI's discrete flow (SD3, AuraFlow, …): 1000 sigmas σ(tᵢ) = time_snr_shift(shift, tᵢ/multiplier) for
    tᵢ = i/1000·multiplier, i = 1…1000; the network's timestep is σ·multiplier."""

    def __init__(self, shift: float = 1.0, multiplier: float = 1000.0, timesteps: int = 1000):
        self.shift, self.multiplier = shift, multiplier
        # ComfyUI's float32 arithmetic, in its order, so tables and schedules match to the bit
        self.sigmas = self.sigma((torch.arange(1, timesteps + 1, 1) / timesteps) * multiplier)

    def __repr__(self) -> str:
        return f"FlowSampling(shift={self.shift}, multiplier={self.multiplier}, timesteps={self.num_timesteps})"

    def shifted(self, u):
        return time_snr_shift(self.shift, u)

    def timestep(self, sigma: torch.Tensor | float) -> torch.Tensor:
        return torch.as_tensor(sigma, dtype=torch.float32) * self.multiplier

    def sigma(self, timestep: torch.Tensor | float) -> torch.Tensor:
        return self.shifted(torch.as_tensor(timestep).float() / self.multiplier)


class FluxSampling(FlowPrediction):
    """The Flux schedule: 10000 sigmas σ(t) = e^μ / (e^μ + (1/t − 1)) for t = i/10000, μ = `shift`; the network's
    timestep is σ itself (Flux networks multiply by 1000 when embedding it)."""

    def __init__(self, shift: float = 1.15, timesteps: int = 10000):
        self.shift = shift
        self.sigmas = self.sigma(torch.arange(1, timesteps + 1, 1) / timesteps)

    def __repr__(self) -> str:
        return f"FluxSampling(shift={self.shift}, timesteps={self.num_timesteps})"

    def shifted(self, u):
        return flux_time_shift(self.shift, u)

    def timestep(self, sigma: torch.Tensor | float) -> torch.Tensor:
        return torch.as_tensor(sigma, dtype=torch.float32)

    def sigma(self, timestep: torch.Tensor | float) -> torch.Tensor:
        return self.shifted(torch.as_tensor(timestep).float())


def flux_mu(width: int, height: int, max_shift: float = 1.15, base_shift: float = 0.5) -> float:
    """ModelSamplingFlux's μ for a picture: linear in its token count N = width·height/256 (a 2×2-patched /8
    latent), base_shift at 256 tokens and max_shift at 4096."""
    tokens = width * height / (8 * 8 * 2 * 2)
    slope = (max_shift - base_shift) / (4096 - 256)
    return tokens * slope + (base_shift - slope * 256)
