"""ControlNets while sampling: a txt2img graph with ControlNetApply(Advanced) equals diffusers'
StableDiffusion(XL)ControlNetPipeline on the same tiny models, alone and stacked; start/end percent and strength.

Both sides get the same initial latents, sigmas and integer timesteps (ComfyUI feeds the UNet the nearest table
index; diffusers would interpolate — see tests/runtime/sampling/test_txt2img_vs_diffusers.py, which bounds that
difference). The hint is a 64×64 image, the size of the latent × 8, so neither side resizes it. One mapping
difference: diffusers switches a ControlNet on and off by step index (`control_guidance_start/end`), ComfyUI by σ
(`start_percent/end_percent` through `percent_to_sigma`), so the percent tests check our σ rule, not the pipeline.
"""


import pytest
import torch

STEPS, CFG, SEED = 6, 5.0, 42
PROMPT = "a red square on a blue background"


def hint_image(seed: int = 11) -> torch.Tensor:
    return torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(seed))


def graph(tiny_checkpoints, apply=None, family="sd1"):
    """Our txt2img graph; `apply(positive, negative) -> (positive, negative)` adds ControlNets."""
    from nodes.stages.latent import EmptyLatentImage
    from nodes.stages.loaders import CheckpointLoaderSimple
    from nodes.stages.sampling import KSampler
    from nodes.stages.text import CLIPTextEncode

    model, clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints[family].name)
    (positive,) = CLIPTextEncode().encode(clip, PROMPT)
    (negative,) = CLIPTextEncode().encode(clip, "")
    if apply is not None:
        positive, negative = apply(positive, negative)
    (latent,) = EmptyLatentImage().generate(64, 64, 1)
    (out,) = KSampler().sample(model, SEED, STEPS, CFG, "euler", "normal", positive, negative, latent, 1.0)
    return out["samples"] * model.latent_format.scale_factor, model, (positive, negative), latent


def pipeline_result(tiny, model, conds, latent, controlnets, scales, images):
    """StableDiffusion(XL)ControlNetPipeline with our sigmas, integer timesteps, start latents and text embeddings."""
    from diffusers import StableDiffusionControlNetPipeline, StableDiffusionXLControlNetPipeline
    from tiny_models import euler_scheduler_on

    from runtime.sampling.noise import prepare_noise
    from runtime.sampling.ksampler import ksampler_sigmas

    ms = model.model_sampling
    sigmas = ksampler_sigmas(ms, "euler", "normal", STEPS, 1.0)
    scheduler = euler_scheduler_on(ms, sigmas)
    positive, negative = conds
    embeds = dict(prompt_embeds=positive[0][0], negative_prompt_embeds=negative[0][0])
    controlnet = controlnets if len(controlnets) > 1 else controlnets[0]
    if tiny.family == "sdxl":
        pipe = StableDiffusionXLControlNetPipeline(**tiny.pipeline_components(), controlnet=controlnet,
                                                   scheduler=scheduler)
        embeds.update(pooled_prompt_embeds=positive[0][1]["pooled_output"],
                      negative_pooled_prompt_embeds=negative[0][1]["pooled_output"])
    else:
        pipe = StableDiffusionControlNetPipeline(**tiny.pipeline_components(), controlnet=controlnet,
                                                 scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                                 requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    start = prepare_noise(latent["samples"], SEED) * float((1 + sigmas[0] ** 2) ** 0.5)
    hints = [image.movedim(-1, 1) for image in images]
    return pipe(**embeds, image=hints if len(hints) > 1 else hints[0],
                controlnet_conditioning_scale=scales if len(scales) > 1 else scales[0], sigmas=sigmas.tolist(),
                guidance_scale=CFG, latents=start / float(scheduler.init_noise_sigma), output_type="latent",
                height=64, width=64).images


def advanced(name_or_control, strength=1.0, start=0.0, end=1.0, image=None):
    from nodes.stages.controlnet import ControlNetApplyAdvanced, ControlNetLoader

    control = name_or_control
    if isinstance(name_or_control, str):
        (control,) = ControlNetLoader().load_controlnet(name_or_control)
    image = hint_image() if image is None else image
    return lambda pos, neg: ControlNetApplyAdvanced().apply_controlnet(pos, neg, control, image, strength, start, end)


@pytest.mark.parametrize("layout", ["original", "diffusers"])
def test_controlnet_equals_stable_diffusion_controlnet_pipeline(tiny_checkpoints, tiny_controlnets,
                                                                tiny_models_paths, layout):
    name, network = tiny_controlnets[("sd1", layout)]
    ours, model, conds, latent = graph(tiny_checkpoints, advanced(name, strength=0.8))
    theirs = pipeline_result(tiny_checkpoints["sd1"], model, conds, latent, [network], [0.8], [hint_image()])
    assert float((ours - theirs).abs().max()) < 1e-3
    without, *_ = graph(tiny_checkpoints)
    assert float((ours - without).abs().max()) > 0.05  # the ControlNet steers the result


def test_old_apply_node_controls_both_sides_like_the_pipeline(tiny_checkpoints, tiny_controlnets, tiny_models_paths):
    from nodes.stages.controlnet import ControlNetApply, ControlNetLoader

    name, network = tiny_controlnets[("sd1", "original")]
    (control,) = ControlNetLoader().load_controlnet(name)

    def apply(positive, negative):  # the old node only sees the positive side; the sampler shares it
        return ControlNetApply().apply_controlnet(positive, control, hint_image(), 0.6)[0], negative
    ours, model, conds, latent = graph(tiny_checkpoints, apply)
    theirs = pipeline_result(tiny_checkpoints["sd1"], model, conds, latent, [network], [0.6], [hint_image()])
    assert float((ours - theirs).abs().max()) < 1e-3


def test_stacked_controlnets_equal_the_multi_controlnet_pipeline(tiny_checkpoints, tiny_controlnets,
                                                                 tiny_models_paths):
    (first, first_net), (second, second_net) = tiny_controlnets[("sd1", "original")], tiny_controlnets[
        ("sd1", "second")]
    images = [hint_image(1), hint_image(2)]

    def apply(positive, negative):
        positive, negative = advanced(first, 0.5, image=images[0])(positive, negative)
        return advanced(second, 0.9, image=images[1])(positive, negative)
    ours, model, conds, latent = graph(tiny_checkpoints, apply)
    assert conds[0][0][1]["control"].previous is conds[1][0][1]["control"].previous is not None
    theirs = pipeline_result(tiny_checkpoints["sd1"], model, conds, latent, [first_net, second_net], [0.5, 0.9],
                             images)
    assert float((ours - theirs).abs().max()) < 1e-3


def test_percent_range_switches_the_controlnet_by_sigma(tiny_checkpoints, tiny_controlnets, tiny_models_paths,
                                                        monkeypatch):
    from runtime.control.controlnet import ControlNet
    from runtime.sampling.ksampler import ksampler_sigmas

    name = tiny_controlnets[("sd1", "original")][0]
    active_sigmas = []
    original = ControlNet.get_control

    def spy(self, x_noisy, sigma, cond, n_chunks):
        result = original(self, x_noisy, sigma, cond, n_chunks)
        if result is not None:
            active_sigmas.append(float(sigma[0]))
        return result
    monkeypatch.setattr(ControlNet, "get_control", spy)

    never, model, *_ = graph(tiny_checkpoints, advanced(name, start=0.0, end=0.0))
    assert active_sigmas == []
    without, *_ = graph(tiny_checkpoints)
    assert torch.equal(never, without)

    later, *_ = graph(tiny_checkpoints, advanced(name, start=0.5, end=1.0))
    sigmas = ksampler_sigmas(model.model_sampling, "euler", "normal", STEPS, 1.0)[:-1]
    limit = model.model_sampling.percent_to_sigma(0.5)
    expected = [float(s) for s in sigmas if float(s) <= limit]
    assert 0 < len(expected) < STEPS and active_sigmas == pytest.approx(expected)
    full, *_ = graph(tiny_checkpoints, advanced(name))
    assert not torch.allclose(later, without, atol=1e-3) and not torch.allclose(later, full, atol=1e-3)


def test_strength_zero_is_a_passthrough_and_strength_scales_residuals(tiny_controlnets, tiny_models_paths,
                                                                      loaded_models):
    from nodes.stages.controlnet import ControlNetApplyAdvanced, ControlNetLoader
    from nodes.stages.text import CLIPTextEncode

    (control,) = ControlNetLoader().load_controlnet(tiny_controlnets[("sd1", "original")][0])
    model, clip = loaded_models("sd1")
    (cond,) = CLIPTextEncode().encode(clip, PROMPT)
    assert ControlNetApplyAdvanced().apply_controlnet(cond, cond, control, hint_image(), 0.0, 0.0, 1.0) == (cond, cond)
    generator = torch.Generator().manual_seed(1)
    batch = {"x_in": torch.randn(1, 4, 8, 8, generator=generator), "timestep": torch.tensor([500.0]),
             "context": cond[0][0], "extras": {}}
    residuals = {}
    for strength in (0.5, 1.5):
        positive, _ = ControlNetApplyAdvanced().apply_controlnet(cond, cond, control, hint_image(), strength, 0, 1)
        applied = positive[0][1]["control"]
        applied.pre_run(model)
        residuals[strength] = applied.get_control(batch["x_in"], torch.tensor([5.0]), batch, 1)
    assert torch.allclose(residuals[1.5]["mid"], 3 * residuals[0.5]["mid"], atol=1e-5)
    assert float(residuals[0.5]["mid"].abs().max()) > 0.01
    assert cond[0][1].get("control") is None  # the input conditioning is never changed


@pytest.mark.parametrize("layout", ["original", "diffusers"])
def test_sdxl_controlnet_equals_stable_diffusion_xl_controlnet_pipeline(tiny_checkpoints, tiny_controlnets,
                                                                        tiny_models_paths, layout):
    # sizes default to the image size (64×64, no crop) on both sides, as in the plain SDXL txt2img test
    name, network = tiny_controlnets[("sdxl", layout)]
    ours, model, conds, latent = graph(tiny_checkpoints, advanced(name, strength=0.7), family="sdxl")
    theirs = pipeline_result(tiny_checkpoints["sdxl"], model, conds, latent, [network], [0.7], [hint_image()])
    assert float((ours - theirs).abs().max()) < 1e-3
    without, *_ = graph(tiny_checkpoints, family="sdxl")
    assert float((ours - without).abs().max()) > 0.05


def test_a_hint_batch_steers_each_latent_of_the_batch(tiny_checkpoints, tiny_controlnets, tiny_models_paths):
    from nodes.stages.controlnet import ControlNetApplyAdvanced, ControlNetLoader
    from nodes.stages.latent import EmptyLatentImage
    from nodes.stages.sampling import KSampler

    (control,) = ControlNetLoader().load_controlnet(tiny_controlnets[("sd1", "original")][0])
    _, model, (positive, negative), _ = graph(tiny_checkpoints)

    def batch_of(images, size):
        pos, neg = ControlNetApplyAdvanced().apply_controlnet(positive, negative, control, torch.cat(images), 1.0,
                                                              0.0, 1.0)
        (latent,) = EmptyLatentImage().generate(64, 64, size)
        (out,) = KSampler().sample(model, SEED, STEPS, CFG, "euler", "normal", pos, neg, latent, 1.0)
        return out["samples"] * model.latent_format.scale_factor
    black, white = torch.zeros(1, 64, 64, 3), torch.ones(1, 64, 64, 3)
    single = batch_of([black], 1)
    different, same = batch_of([black, white], 2), batch_of([black], 2)
    # the first latent of a batch starts from the same noise as a batch of one and sees the first hint
    # (this strong random ControlNet drives latents to ~30: compare relative to that, batching moves float32 a bit)
    scale = float(single.abs().max())
    assert float((different[0] - single[0]).abs().max()) < 1e-3 * scale
    assert float((different[0] - same[0]).abs().max()) < 1e-4 * scale  # one hint is broadcast to the whole batch
    # the tiny random ControlNet reacts weakly to its hint, but far above float noise
    batching_noise = float((different[0] - single[0]).abs().max())
    assert float((different[1] - same[1]).abs().max()) > max(10 * batching_noise, 1e-4 * scale)
