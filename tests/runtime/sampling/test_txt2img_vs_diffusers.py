"""txt2img through our nodes equals diffusers' StableDiffusionPipeline on a tiny SD1 checkpoint.

Both start from the same initial latents (KSampler's seeded noise) and the same sigmas, and get the same text
embeddings (from our CLIPTextEncode). One difference is ComfyUI's and must be stated: ComfyUI (and we) feed the
UNet the *nearest table index* as timestep (`timestep(σ)`, an integer), while diffusers maps a sigma to a
*fractional* timestep by interpolating log-sigmas. The exact tests hand diffusers our integer timesteps; the last
test keeps diffusers' own mapping and bounds the difference it makes (|Δt| ≤ 0.5 per step).
"""

import pytest
import torch

STEPS, CFG, SEED = 8, 6.0, 1234


def _with_timesteps(scheduler_cls, timesteps):
    """A diffusers scheduler that takes our sigmas and, when `timesteps` is given, our integer timesteps."""
    class Aligned(scheduler_cls):
        def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, **kwargs):
            sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
            if scheduler_cls.__name__ == "EulerDiscreteScheduler":
                super().set_timesteps(device=device, sigmas=sigmas.tolist())
            else:
                super().set_timesteps(len(sigmas) - 1, device=device)
                self.sigmas = sigmas.clone()
            if timesteps is not None:
                self.timesteps = timesteps.clone().to(self.timesteps.dtype)
    return Aligned


def _run_both(tiny_checkpoints, sampler, scheduler, scheduler_cls, align_timesteps=True, family="sd1"):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    from runtime.sampling.noise import prepare_noise
    from runtime.sampling.ksampler import ksampler_sigmas
    from nodes.stages.latent import EmptyLatentImage
    from nodes.stages.loaders import CheckpointLoaderSimple
    from nodes.stages.sampling import KSampler
    from nodes.stages.text import CLIPTextEncode

    tiny = tiny_checkpoints[family]
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny.name)
    (positive,) = CLIPTextEncode().encode(clip, "a red square on a blue background")
    (negative,) = CLIPTextEncode().encode(clip, "")
    (latent,) = EmptyLatentImage().generate(64, 64, 1)
    (ours,) = KSampler().sample(model, SEED, STEPS, CFG, sampler, scheduler, positive, negative, latent, 1.0)

    ms = model.model_sampling
    sigmas = ksampler_sigmas(ms, sampler, scheduler, STEPS, 1.0)
    timesteps = ms.timestep(sigmas[:-1]).float() if align_timesteps else None
    config = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    if scheduler_cls.__name__ == "DPMSolverMultistepScheduler":
        config.update(algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero")
    reference = _with_timesteps(scheduler_cls, timesteps)(**config)
    embeds = dict(prompt_embeds=positive[0][0], negative_prompt_embeds=negative[0][0])
    if family == "sdxl":
        pipe = StableDiffusionXLPipeline(**tiny.pipeline_components(), scheduler=reference)
        embeds.update(pooled_prompt_embeds=positive[0][1]["pooled_output"],
                      negative_pooled_prompt_embeds=negative[0][1]["pooled_output"])
    else:
        pipe = StableDiffusionPipeline(**tiny.pipeline_components(), scheduler=reference, safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    reference.set_timesteps(sigmas=sigmas)
    # ComfyUI starts from x = noise·sqrt(1 + σ₀²); Euler works on that x, DPM-Solver on x / sqrt(1 + σ²) (= noise);
    # the pipeline multiplies the latents it is given by init_noise_sigma
    start = prepare_noise(latent["samples"], SEED)
    if scheduler_cls.__name__ == "EulerDiscreteScheduler":
        start = start * float((1 + sigmas[0] ** 2) ** 0.5)
    start = start / float(reference.init_noise_sigma)
    theirs = pipe(**embeds, sigmas=sigmas.tolist(), guidance_scale=CFG, latents=start, output_type="latent",
                  height=64, width=64).images
    return ours["samples"] * model.latent_format.scale_factor, theirs, sigmas, ms


@pytest.mark.slow
@pytest.mark.parametrize("sampler, scheduler, scheduler_class", [
    ("euler", "normal", "EulerDiscreteScheduler"),
    ("dpmpp_2m", "karras", "DPMSolverMultistepScheduler"),
])
def test_txt2img_equals_stable_diffusion_pipeline(tiny_checkpoints, tiny_models_paths, sampler, scheduler,
                                                   scheduler_class):
    import diffusers

    torch.set_num_threads(1)
    ours, theirs, _, _ = _run_both(tiny_checkpoints, sampler, scheduler, getattr(diffusers, scheduler_class))
    assert ours.shape == theirs.shape == (1, 4, 8, 8)
    assert float((ours - theirs).abs().max()) < 1e-3
    assert float(theirs.std()) > 0.1  # a real result, not two zeros


@pytest.mark.slow
def test_sdxl_txt2img_equals_stable_diffusion_xl_pipeline(tiny_checkpoints, tiny_models_paths):
    """SDXL adds pooled text and size ids; sizes default to the image size (64×64, no crop) on both sides."""
    from diffusers import EulerDiscreteScheduler

    torch.set_num_threads(1)
    ours, theirs, _, _ = _run_both(tiny_checkpoints, "euler", "normal", EulerDiscreteScheduler, family="sdxl")
    assert float((ours - theirs).abs().max()) < 1e-3
    assert float(theirs.std()) > 0.1


@pytest.mark.slow
def test_diffusers_own_timestep_mapping_differs_by_at_most_half_a_step(tiny_checkpoints, tiny_models_paths):
    from diffusers import EulerDiscreteScheduler

    torch.set_num_threads(1)
    ours, theirs, sigmas, ms = _run_both(tiny_checkpoints, "euler", "normal", EulerDiscreteScheduler,
                                         align_timesteps=False)
    reference = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    reference.set_timesteps(sigmas=sigmas.tolist())
    difference = (reference.timesteps.float() - ms.timestep(sigmas[:-1]).float()).abs()
    assert float(difference.max()) <= 0.5 + 1e-3 and float(difference.max()) > 0  # "normal" is off-table
    # the UNet's time embedding moves by < 0.5 step: the result moves a little, far less than its own scale
    assert float((ours - theirs).abs().max()) < 0.05 * float(theirs.abs().max())
