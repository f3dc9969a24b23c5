"""img2img (partial denoise) and v-prediction through our nodes equal diffusers' pipelines on tiny checkpoints.

Same stated difference as test_txt2img_vs_diffusers.py: diffusers gets our integer timesteps (ComfyUI's
nearest-table-index mapping) so the comparison is exact.
"""

import pytest
import torch
from test_txt2img_vs_diffusers import _with_timesteps

SEED, CFG = 77, 5.0
SCHEDULER = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)


def _encode(clip):
    from nodes.stages.text import CLIPTextEncode

    return CLIPTextEncode().encode(clip, "a green circle")[0], CLIPTextEncode().encode(clip, "")[0]


def _write_and_load(tmp_path, family, **options):
    """A tiny checkpoint written under tmp_path with `options`, and its MODEL and CLIP loaded by our loader node."""
    from tiny_models import write_tiny

    import runtime
    from nodes.stages.loaders import CheckpointLoaderSimple

    tiny = write_tiny(family, tmp_path / "models" / "checkpoints", **options)
    with runtime.configured(paths=runtime.Paths.create(tmp_path)):
        model, clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny.name)
    return tiny, model, clip


@pytest.mark.slow
def test_img2img_half_denoise_equals_img2img_pipeline(tiny_checkpoints, tiny_models_paths):
    """KSampler denoise 0.5 over 5 steps = the last 6 sigmas of a 10-step schedule = strength 0.5 of 10 steps."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionImg2ImgPipeline

    from runtime.sampling.schedules import calculate_sigmas
    from nodes.stages.loaders import CheckpointLoaderSimple
    from nodes.stages.sampling import KSampler

    torch.set_num_threads(1)
    tiny = tiny_checkpoints["sd1"]
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny.name)
    positive, negative = _encode(clip)
    source = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3)) * 5  # a raw VAE latent
    (ours,) = KSampler().sample(model, SEED, 5, CFG, "euler", "normal", positive, negative, {"samples": source}, 0.5)

    ms = model.model_sampling
    sigmas = calculate_sigmas(ms, "normal", 10)
    scheduler = _with_timesteps(EulerDiscreteScheduler, ms.timestep(sigmas[:-1]).float())(**SCHEDULER)
    pipe = StableDiffusionImg2ImgPipeline(**tiny.pipeline_components(), scheduler=scheduler, safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(prompt_embeds=positive[0][0], negative_prompt_embeds=negative[0][0],
                  image=source * model.latent_format.scale_factor, strength=0.5, sigmas=sigmas.tolist(),
                  guidance_scale=CFG, generator=torch.Generator().manual_seed(SEED), output_type="latent").images
    ours_scaled = ours["samples"] * model.latent_format.scale_factor
    assert float((ours_scaled - theirs).abs().max()) < 1e-3
    assert float((ours_scaled - source * model.latent_format.scale_factor).abs().max()) > 0.1  # it did change


@pytest.mark.slow
def test_v_prediction_txt2img_equals_pipeline(tmp_path):
    """A tiny SD2 768-v checkpoint (detected from its weights) samples like diffusers with v_prediction."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    from runtime.sampling.noise import prepare_noise
    from runtime.sampling.ksampler import ksampler_sigmas
    from nodes.stages.sampling import KSampler

    torch.set_num_threads(1)
    tiny, model, clip = _write_and_load(tmp_path, "sd2", v_prediction=True)
    assert model.model_sampling.prediction_type == "v"
    positive, negative = _encode(clip)
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    (ours,) = KSampler().sample(model, SEED, 6, CFG, "euler", "karras", positive, negative, latent, 1.0)

    ms = model.model_sampling
    sigmas = ksampler_sigmas(ms, "euler", "karras", 6, 1.0)
    scheduler = _with_timesteps(EulerDiscreteScheduler, ms.timestep(sigmas[:-1]).float())(
        prediction_type="v_prediction", **SCHEDULER)
    pipe = StableDiffusionPipeline(**tiny.pipeline_components(), scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    scheduler.set_timesteps(sigmas=sigmas)
    start = prepare_noise(latent["samples"], SEED) * float((1 + sigmas[0] ** 2) ** 0.5) / float(
        scheduler.init_noise_sigma)
    theirs = pipe(prompt_embeds=positive[0][0], negative_prompt_embeds=negative[0][0], sigmas=sigmas.tolist(),
                  guidance_scale=CFG, latents=start, output_type="latent", height=64, width=64).images
    ours_scaled = ours["samples"] * model.latent_format.scale_factor
    assert float((ours_scaled - theirs).abs().max()) < 1e-3
    assert float(theirs.std()) > 0.1


@pytest.mark.slow
def test_inpainting_with_a_noise_mask_equals_inpaint_pipeline(tiny_checkpoints, tiny_models_paths):
    """A LATENT noise_mask on a plain (4-channel) model: diffusers re-noises the kept region after each step, we
    before each model call; for Euler over the same sigmas both give the same result."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionInpaintPipeline

    from runtime.sampling.schedules import calculate_sigmas
    from nodes.stages.loaders import CheckpointLoaderSimple
    from nodes.stages.sampling import KSampler

    torch.set_num_threads(1)
    tiny = tiny_checkpoints["sd1"]
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny.name)
    positive, negative = _encode(clip)
    source = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(4)) * 5
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 24:64] = 1.0  # repaint a block-aligned region (nearest and bilinear resizing agree)
    (ours,) = KSampler().sample(model, SEED, 4, CFG, "euler", "normal", positive, negative,
                                {"samples": source, "noise_mask": mask}, 0.5)

    ms, scale = model.model_sampling, model.latent_format.scale_factor
    sigmas = calculate_sigmas(ms, "normal", 8)
    scheduler = _with_timesteps(EulerDiscreteScheduler, ms.timestep(sigmas[:-1]).float())(**SCHEDULER)
    pipe = StableDiffusionInpaintPipeline(**tiny.pipeline_components(), scheduler=scheduler, safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    # image given as latents; masked_image_latents only feeds 9-channel UNets (given so latents pass its checks)
    theirs = pipe(prompt_embeds=positive[0][0], negative_prompt_embeds=negative[0][0], image=source * scale,
                  mask_image=mask, masked_image_latents=source * scale, strength=0.5, sigmas=sigmas.tolist(),
                  guidance_scale=CFG, height=64, width=64,
                  generator=torch.Generator().manual_seed(SEED), output_type="latent").images
    ours_scaled = ours["samples"] * scale
    assert float((ours_scaled - theirs).abs().max()) < 1e-3
    assert torch.allclose(ours_scaled[..., :2, :], source[..., :2, :] * scale, atol=1e-4)  # kept region
    assert float((ours_scaled[..., 2:6, 3:] - source[..., 2:6, 3:] * scale).abs().max()) > 0.1  # repainted


@pytest.mark.slow
def test_inpainting_model_equals_inpaint_pipeline(tmp_path):
    """A 9-channel inpainting checkpoint: mask and masked-image latent from the conditioning (as
    InpaintModelConditioning sets them) go into the extra input channels like the pipeline's."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionInpaintPipeline

    from runtime.sampling.noise import prepare_noise
    from runtime.sampling.ksampler import ksampler_sigmas
    from nodes.stages.sampling import KSampler

    torch.set_num_threads(1)
    tiny, model, clip = _write_and_load(tmp_path, "sd1", inpaint=True)
    assert model.in_channels == 9
    scale = model.latent_format.scale_factor
    masked_image = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(6)) * 4  # raw latent
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 8:40, 16:56] = 1.0
    extra = {"concat_latent_image": masked_image, "concat_mask": mask}
    positive, negative = _encode(clip)
    positive = [[positive[0][0], {**positive[0][1], **extra}]]
    negative = [[negative[0][0], {**negative[0][1], **extra}]]
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    (ours,) = KSampler().sample(model, SEED, 5, CFG, "euler", "normal", positive, negative, latent, 1.0)

    ms = model.model_sampling
    sigmas = ksampler_sigmas(ms, "euler", "normal", 5, 1.0)
    scheduler = _with_timesteps(EulerDiscreteScheduler, ms.timestep(sigmas[:-1]).float())(**SCHEDULER)
    pipe = StableDiffusionInpaintPipeline(**tiny.pipeline_components(), scheduler=scheduler, safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    scheduler.set_timesteps(sigmas=sigmas)
    start = prepare_noise(latent["samples"], SEED) * float((1 + sigmas[0] ** 2) ** 0.5) / float(
        scheduler.init_noise_sigma)
    theirs = pipe(prompt_embeds=positive[0][0], negative_prompt_embeds=negative[0][0], image=latent["samples"],
                  mask_image=mask, masked_image_latents=masked_image * scale, latents=start, strength=1.0,
                  sigmas=sigmas.tolist(), guidance_scale=CFG, height=64, width=64, output_type="latent").images
    ours_scaled = ours["samples"] * scale
    assert float((ours_scaled - theirs).abs().max()) < 1e-3
    assert float(theirs.std()) > 0.1
