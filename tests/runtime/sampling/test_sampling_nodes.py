"""KSampler, KSamplerAdvanced and the custom-sampling nodes (spec §7.4, §7.7, §8.5) on the stand-in model."""

import pytest
import torch
from sampling_fakes import cond

from executor.progress import InterruptProcessing, ProgressHook, installed
from runtime.sampling.ksampler import ksampler_sigmas
from runtime.sampling.schedules import calculate_sigmas
from nodes.stages import custom_sampling as c
from nodes.stages import model_sampling as m
from nodes.stages import sampling as n


def latent(batch=1, value=0.0):
    return {"samples": torch.full((batch, 4, 8, 8), value)}


def ksampler(model, sampler="euler", scheduler="normal", steps=6, lat=None, **kw):
    return n.KSampler().sample(model, 42, steps, 5.0, sampler, scheduler, cond(0.3), cond(-0.3),
                               lat or latent(), **kw)[0]


def test_node_declarations_match_comfyui():
    required = n.KSampler.INPUT_TYPES()["required"]
    assert list(required) == ["model", "seed", "steps", "cfg", "sampler_name", "scheduler", "positive", "negative",
                              "latent_image", "denoise"]
    assert required["scheduler"][0][0] == "simple" and required["sampler_name"][0][0] == "euler"
    assert list(n.KSamplerAdvanced.INPUT_TYPES()["required"])[-3:] == ["start_at_step", "end_at_step",
                                                                      "return_with_leftover_noise"]
    assert c.SamplerCustom.RETURN_NAMES == ("output", "denoised_output")
    assert n.NODE_DISPLAY_NAME_MAPPINGS["KSamplerAdvanced"] == "KSampler (Advanced)"


def test_ksampler_output_keeps_the_latent_keys(fake_model):
    lat = {"samples": torch.zeros(2, 4, 8, 8), "batch_index": [0, 1], "extra": "kept"}
    out = ksampler(fake_model, lat=lat)
    assert out["samples"].shape == (2, 4, 8, 8) and out["extra"] == "kept" and out["batch_index"] == [0, 1]
    assert bool(torch.isfinite(out["samples"]).all())


def test_denoise_zero_and_late_start_return_the_input(fake_model):
    lat = latent(value=0.5)
    assert torch.equal(ksampler(fake_model, lat=lat, denoise=0.0)["samples"], lat["samples"])
    out = n.KSamplerAdvanced().sample(fake_model, "enable", 1, 6, 5.0, "euler", "normal", cond(0.3), cond(-0.3),
                                      lat, 6, 10000, "disable")[0]
    assert torch.equal(out["samples"], lat["samples"])
    assert fake_model.calls == []


def test_advanced_in_two_halves_equals_one_run(fake_model):
    adv = n.KSamplerAdvanced()
    args = (fake_model, 7, 8, 4.0, "euler", "karras", cond(0.3), cond(-0.3))
    full = adv.sample(fake_model, "enable", *args[1:], latent(), 0, 10000, "disable")[0]
    half = adv.sample(fake_model, "enable", *args[1:], latent(), 0, 3, "enable")[0]
    rest = adv.sample(fake_model, "disable", *args[1:], half, 3, 10000, "disable")[0]
    # the half-way latent is raw (÷ scale factor) and re-scaled on entry: equal up to rounding
    assert torch.allclose(full["samples"], rest["samples"], atol=1e-4)
    assert not torch.allclose(half["samples"], full["samples"], atol=1e-2)


def test_ksampler_schedule_rules():
    from runtime.sampling.model_sampling import DiscreteSampling

    model_sampling = DiscreteSampling()
    full = calculate_sigmas(model_sampling, "normal", 10)
    assert torch.equal(ksampler_sigmas(model_sampling, "euler", "normal", 5, 0.5), full[-6:])
    longer = calculate_sigmas(model_sampling, "normal", 6)
    assert torch.equal(ksampler_sigmas(model_sampling, "dpm_2", "normal", 5, 1.0),
                       torch.cat([longer[:-2], longer[-1:]]))
    assert ksampler_sigmas(model_sampling, "euler", "normal", 5, 0.0).numel() == 0


def test_custom_sampling_nodes_reproduce_ksampler(fake_model):
    expected = ksampler(fake_model, sampler="dpmpp_2m", scheduler="karras")
    sampler = c.KSamplerSelect().get_sampler("dpmpp_2m")[0]
    sigmas = c.BasicScheduler().get_sigmas(fake_model, "karras", 6, 1.0)[0]
    out, denoised = c.SamplerCustom().sample(fake_model, True, 42, 5.0, cond(0.3), cond(-0.3), sampler, sigmas,
                                             latent())
    assert torch.allclose(out["samples"], expected["samples"], atol=1e-6)
    guider = c.CFGGuider().get_guider(fake_model, cond(0.3), cond(-0.3), 5.0)[0]
    noise = c.RandomNoise().get_noise(42)[0]
    out2, denoised2 = c.SamplerCustomAdvanced().sample(noise, guider, sampler, sigmas, latent())
    assert torch.allclose(out2["samples"], expected["samples"], atol=1e-6)
    assert torch.allclose(denoised2["samples"], denoised["samples"], atol=1e-6)
    high, _ = c.SplitSigmas().get_sigmas(sigmas, 3)  # stop with noise left: output and x0 prediction differ
    out, denoised = c.SamplerCustom().sample(fake_model, True, 42, 5.0, cond(0.3), cond(-0.3), sampler, high,
                                             latent())
    assert not torch.allclose(denoised["samples"], out["samples"], atol=1e-2)


def test_split_sigmas_and_explicit_schedulers():
    sigmas = c.KarrasScheduler().get_sigmas(4, 14.614642, 0.0291675, 7.0)[0]
    high, low = c.SplitSigmas().get_sigmas(sigmas, 2)
    assert torch.equal(high, sigmas[:3]) and torch.equal(low, sigmas[2:])
    assert c.ExponentialScheduler().get_sigmas(4, 10.0, 0.1)[0].shape == (5,)
    assert c.BasicScheduler().get_sigmas(type("M", (), {"model_sampling": None}), "normal", 4, 0.0)[0].numel() == 0


def test_disable_noise_keeps_a_deterministic_start(fake_model):
    noise = c.DisableNoise().get_noise()[0]
    guider = c.BasicGuider().get_guider(fake_model, cond(0.3))[0]
    sigmas = torch.tensor([1.0, 0.5, 0.0])
    a = c.SamplerCustomAdvanced().sample(noise, guider, c.KSamplerSelect().get_sampler("euler")[0], sigmas,
                                         latent(value=1.0))[0]
    b = c.SamplerCustomAdvanced().sample(noise, guider, c.KSamplerSelect().get_sampler("euler")[0], sigmas,
                                         latent(value=1.0))[0]
    assert torch.equal(a["samples"], b["samples"])


@pytest.mark.parametrize("sampler", ["euler", "ddim", "dpmpp_2m_sde"])
def test_noise_mask_keeps_the_unmasked_region(fake_model, sampler):
    original = torch.randn(1, 4, 8, 8)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :, :32] = 1.0  # repaint the left half
    out = ksampler(fake_model, sampler=sampler, lat={"samples": original, "noise_mask": mask})
    assert torch.allclose(out["samples"][..., 4:], original[..., 4:], atol=1e-5)
    assert not torch.allclose(out["samples"][..., :3], original[..., :3], atol=1e-2)
    assert "noise_mask" in out


def _hook(events, **attrs):
    hook = ProgressHook("p", "5", "5", lambda event, data: events.append((event, data)))
    for key, value in attrs.items():
        setattr(hook, key, value)
    return hook


def test_every_step_reports_progress_and_a_preview(fake_model):
    events = []
    with installed(_hook(events)):
        ksampler(fake_model, steps=4)
    progress = [d["value"] for e, d in events if e == "progress"]
    assert progress == [1, 2, 3, 4] and all(d["max"] == 4 for e, d in events if e == "progress")
    previews = [d for e, d in events if e == "preview_image"]
    assert len(previews) == 4 and previews[0]["format"] == "JPEG" and previews[0]["image"].size == (8, 8)


def test_previews_can_be_turned_off(fake_model):
    events = []
    with installed(_hook(events, preview_method="none")):
        ksampler(fake_model, steps=2)
    assert [e for e, _ in events] == ["progress", "progress"]


def test_interrupt_stops_sampling(fake_model):
    events = []
    hook = _hook(events)
    hook.interrupt_flag.set()
    with installed(hook), pytest.raises(InterruptProcessing):
        ksampler(fake_model, steps=20)
    assert len(fake_model.calls) == 0


def test_latent_is_scaled_into_model_space_and_back(fake_model):
    seen = []
    original_forward = fake_model.unet_forward

    def spy(x, timestep, context, extras, control=None):
        seen.append(x.clone())
        return original_forward(x, timestep, context, extras, control)
    fake_model.unet_forward = spy
    lat = latent(value=1.0)
    n.KSamplerAdvanced().sample(fake_model, "disable", 0, 2, 1.0, "euler", "normal", cond(0.0), cond(0.0), lat,
                                0, 10000, "disable")
    sigma0 = float(calculate_sigmas(fake_model.model_sampling, "normal", 2)[0])
    assert torch.allclose(seen[0], torch.full_like(seen[0], 0.18215 / (sigma0 ** 2 + 1) ** 0.5))


def test_bad_latent_is_named(fake_model):
    with pytest.raises(ValueError, match="KSampler: input 'latent_image' must be a LATENT"):
        n.KSampler().sample(fake_model, 0, 2, 1.0, "euler", "normal", cond(0), cond(0), torch.zeros(1))


def test_cfg_pp_samplers_evaluate_the_negative_even_at_cfg_one(fake_model):
    out = n.KSampler().sample(fake_model, 1, 3, 1.0, "euler_cfg_pp", "normal", cond(0.3), cond(-0.3), latent())[0]
    assert bool(torch.isfinite(out["samples"]).all())
    assert [c[0] for c in fake_model.calls] == [2, 2, 2]
    fake_model.calls.clear()
    n.KSampler().sample(fake_model, 1, 3, 1.0, "euler", "normal", cond(0.3), cond(-0.3), latent())
    assert [c[0] for c in fake_model.calls] == [1, 1, 1]


def test_model_sampling_discrete_patches_a_clone(fake_model):
    (patched,) = m.ModelSamplingDiscrete().patch(fake_model, "v_prediction", False)
    assert patched.model_sampling.prediction_type == "v" and fake_model.model_sampling.prediction_type == "eps"
    (lcm,) = m.ModelSamplingDiscrete().patch(fake_model, "lcm", True)
    assert len(lcm.model_sampling.sigmas) == 50 and lcm.model_sampling.zsnr
    out = n.KSampler().sample(lcm, 3, 4, 1.0, "lcm", "sgm_uniform", cond(0.3), cond(-0.3), latent())[0]
    assert bool(torch.isfinite(out["samples"]).all())
    with pytest.raises(ValueError, match="ModelSamplingDiscrete: input 'sampling' must be one of"):
        m.ModelSamplingDiscrete().patch(fake_model, "img_to_img", False)


def test_a_noise_mask_fills_inpainting_channels_unless_the_conditioning_has_its_own(fake_model):
    original = torch.randn(1, 4, 8, 8)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :32] = 1.0
    own = torch.ones(1, 1, 8, 8)
    n.KSampler().sample(fake_model, 1, 2, 2.0, "euler", "normal", cond(0.3, concat_mask=own), cond(-0.3),
                        {"samples": original, "noise_mask": mask})
    positive, negative = fake_model.seen_options
    assert positive["concat_mask"] is own and torch.equal(positive["concat_latent_image"], original)
    assert negative["concat_mask"].shape == (1, 1, 8, 8) and float(negative["concat_mask"][..., :4].min()) == 1.0
    assert negative["width"] == 64 and negative["prompt_type"] == "negative"
    fake_model.seen_options.clear()
    ksampler(fake_model, steps=2)
    assert all("concat_mask" not in options for options in fake_model.seen_options)


def test_guider_sample_takes_comfyui_arguments_and_calls_back(fake_model):
    guider = c.CFGGuider().get_guider(fake_model, cond(0.3), cond(-0.3), 2.0)[0]
    seen = []
    out = guider.sample(torch.randn(1, 4, 8, 8), torch.zeros(1, 4, 8, 8), c.KSamplerSelect().get_sampler("euler")[0],
                        torch.tensor([3.0, 1.0, 0.0]), callback=lambda *args: seen.append(args), disable_pbar=True,
                        seed=4)
    assert out.shape == (1, 4, 8, 8) and [(s[0], s[3]) for s in seen] == [(0, 2), (1, 2)]
