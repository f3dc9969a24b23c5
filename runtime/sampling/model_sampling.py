"""Model sampling of discrete-time models (SD1.x/SD2.x/SDXL, LCM): the sigma table, sigma<->timestep, eps/v/x0
denoising and the initial noise scaling (spec §7.2). A MODEL carries one as `model.model_sampling`."""

from __future__ import annotations

import math

import torch

PREDICTION_TYPES = ("eps", "v", "x0", "lcm")
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


class DiscreteSampling:
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

    @property
    def num_timesteps(self) -> int:
        return len(self.sigmas)

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

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
