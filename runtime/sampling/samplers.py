"""The SAMPLER value: sampler names in ComfyUI's combo order, each bound to its solver function (`solvers`,
`cfg_pp`, `unipc`), plus what the sampling run around a solver must know about it."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

from runtime.sampling import cfg_pp, solvers, unipc
from runtime.sampling.names import SAMPLER_NAMES

_SOLVERS: dict[str, Callable] = {
    "euler": solvers.euler,
    "euler_cfg_pp": cfg_pp.euler_cfg_pp,
    "euler_ancestral": solvers.euler_ancestral,
    "euler_ancestral_cfg_pp": cfg_pp.euler_ancestral_cfg_pp,
    "heun": solvers.heun,
    "heunpp2": solvers.heunpp2,
    "dpm_2": solvers.dpm_2,
    "dpm_2_ancestral": solvers.dpm_2_ancestral,
    "lms": solvers.lms,
    "dpm_fast": solvers.dpm_fast,
    "dpm_adaptive": solvers.dpm_adaptive,
    "dpmpp_2s_ancestral": solvers.dpmpp_2s_ancestral,
    "dpmpp_2s_ancestral_cfg_pp": cfg_pp.dpmpp_2s_ancestral_cfg_pp,
    "dpmpp_sde": solvers.dpmpp_sde,
    "dpmpp_sde_gpu": functools.partial(solvers.dpmpp_sde, cpu_tree=False),
    "dpmpp_2m": solvers.dpmpp_2m,
    "dpmpp_2m_cfg_pp": cfg_pp.dpmpp_2m_cfg_pp,
    "dpmpp_2m_sde": solvers.dpmpp_2m_sde,
    "dpmpp_2m_sde_gpu": functools.partial(solvers.dpmpp_2m_sde, cpu_tree=False),
    "dpmpp_2m_sde_heun": functools.partial(solvers.dpmpp_2m_sde, solver_type="heun"),
    "dpmpp_2m_sde_heun_gpu": functools.partial(solvers.dpmpp_2m_sde, solver_type="heun", cpu_tree=False),
    "dpmpp_3m_sde": solvers.dpmpp_3m_sde,
    "dpmpp_3m_sde_gpu": functools.partial(solvers.dpmpp_3m_sde, cpu_tree=False),
    "ddpm": solvers.ddpm,
    "lcm": solvers.lcm,
    "ipndm": solvers.ipndm,
    "ipndm_v": solvers.ipndm_v,
    "deis": solvers.deis,
    "res_multistep": solvers.res_multistep,
    "res_multistep_cfg_pp": functools.partial(solvers.res_multistep, cfg_pp=True),
    "res_multistep_ancestral": functools.partial(solvers.res_multistep, eta=1.0),
    "res_multistep_ancestral_cfg_pp": functools.partial(solvers.res_multistep, eta=1.0, cfg_pp=True),
    "gradient_estimation": solvers.gradient_estimation,
    "gradient_estimation_cfg_pp": functools.partial(solvers.gradient_estimation, cfg_pp=True),
    "ddim": solvers.euler,  # DDIM (η = 0) is the Euler step in σ; see `random_inpaint_noise`
    "uni_pc": unipc.uni_pc,
    "uni_pc_bh2": unipc.uni_pc_bh2,
}
assert tuple(_SOLVERS) == SAMPLER_NAMES

@dataclass(frozen=True)
class Sampler:
    """A SAMPLER value: a solver plus how the sampling run around it behaves."""

    name: str
    function: Callable
    options: dict = field(default_factory=dict)
    # ddim re-noises the kept (unmasked) inpainting region with its own noise, seeded seed + 1
    random_inpaint_noise: bool = False
    # CFG++ samplers read the unconditional prediction (and need it even at cfg 1)
    needs_uncond: bool = False

    def __call__(self, denoiser, x, sigmas, extra):
        return self.function(denoiser, x, sigmas, extra, **self.options)


def sampler_object(name: str) -> Sampler:
    """The Sampler named `name`; an unknown name is an error naming the known ones."""
    if name not in _SOLVERS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLER_NAMES)}")
    return Sampler(name, _SOLVERS[name], random_inpaint_noise=name == "ddim", needs_uncond=name.endswith("_cfg_pp"))
