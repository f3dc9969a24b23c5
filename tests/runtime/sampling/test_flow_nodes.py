"""The rectified-flow nodes on the stand-in model: ModelSamplingSD3/AuraFlow/Flux patch a clone's model sampling,
FluxGuidance/FluxDisableGuidance set the `guidance` option, EmptySD3LatentImage makes a 16-channel latent whose
ratio key the samplers drop, and KSampler/SamplerCustom sample a flow model the CONST way."""

import dataclasses

import pytest
import torch
from sampling_fakes import FakeModel, cond

from nodes.stages import conditioning as cn
from nodes.stages import custom_sampling as c
from nodes.stages import latent as lt
from nodes.stages import model_sampling as m
from nodes.stages import sampling as n
from runtime.sampling.model_sampling import DiscreteSampling, FlowSampling, FluxSampling
from runtime.sampling.noise import prepare_noise
from runtime.sampling.schedules import calculate_sigmas


@pytest.fixture
def flow_model():
    model = FakeModel()
    model.latent_format = dataclasses.replace(model.latent_format, channels=16)
    return model


def test_model_sampling_sd3_and_auraflow_patch_a_clone(flow_model):
    (sd3,) = m.ModelSamplingSD3().patch(flow_model, 3.0)
    (aura,) = m.ModelSamplingAuraFlow().patch_aura(flow_model, 1.73)
    assert isinstance(flow_model.model_sampling, DiscreteSampling)  # the input MODEL is left alone
    assert isinstance(sd3.model_sampling, FlowSampling) and sd3.model_sampling.shift == 3.0
    assert sd3.model_sampling.multiplier == 1000 and float(sd3.model_sampling.timestep(0.5)) == 500.0
    assert aura.model_sampling.shift == 1.73 and float(aura.model_sampling.timestep(0.5)) == 0.5


@pytest.mark.parametrize("width, height, mu",
                         [(1024, 1024, 1.15), (256, 256, 0.5), (512, 512, 0.5 + 0.65 * 768 / 3840)])
def test_model_sampling_flux_takes_mu_from_the_picture_size(flow_model, width, height, mu):
    (patched,) = m.ModelSamplingFlux().patch(flow_model, 1.15, 0.5, width, height)
    assert isinstance(patched.model_sampling, FluxSampling)
    assert patched.model_sampling.shift == pytest.approx(mu)


def test_model_sampling_discrete_turns_a_flow_model_back_into_a_discrete_one(flow_model):
    (sd3,) = m.ModelSamplingSD3().patch(flow_model, 3.0)
    (eps,) = m.ModelSamplingDiscrete().patch(sd3, "eps")
    assert isinstance(eps.model_sampling, DiscreteSampling)
    assert torch.equal(eps.model_sampling.sigmas, DiscreteSampling().sigmas)


def test_flux_guidance_sets_and_disables_the_guidance_option():
    positive = cond(0.5, extra="kept")
    (guided,) = cn.FluxGuidance().append(positive, 3.5)
    assert guided[0][1] == {"extra": "kept", "guidance": 3.5} and "guidance" not in positive[0][1]
    (disabled,) = cn.FluxDisableGuidance().append(guided)
    assert disabled[0][1]["guidance"] is None and guided[0][1]["guidance"] == 3.5


def test_empty_sd3_latent_is_16_channels_at_one_eighth_with_its_ratio():
    (out,) = lt.EmptySD3LatentImage().generate(384, 512, 2)
    assert out["samples"].shape == (2, 16, 64, 48) and not out["samples"].any()
    assert out["downscale_ratio_spacial"] == 8


def test_ksampler_samples_a_flow_model_the_const_way_and_drops_the_ratio_key(flow_model):
    (sd3,) = m.ModelSamplingSD3().patch(flow_model, 3.0)
    (latent,) = lt.EmptySD3LatentImage().generate(64, 64, 1)
    out = n.KSampler().sample(sd3, 7, 4, 1.0, "euler", "simple", cond(0.2), cond(-0.2), latent)[0]
    assert "downscale_ratio_spacial" not in out and "downscale_ratio_spacial" in latent

    # the same run by hand: x starts as pure noise (σ = 1), the network sees x and σ·1000, clean = x − σ·v
    ms = sd3.model_sampling
    sigmas = calculate_sigmas(ms, "simple", 4)
    x = prepare_noise(latent["samples"], 7)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        velocity = 0.5 * x + 0.2 + 0.001 * float(sigma) * 1000  # the stand-in network at cfg 1 (positive only)
        denoised = x - sigma * velocity
        x = x + (x - denoised) / sigma * (sigma_next - sigma)
    assert torch.allclose(out["samples"], x / flow_model.latent_format.scale_factor, atol=1e-5)


def test_sampler_custom_drops_the_ratio_key_from_both_outputs(flow_model):
    (sd3,) = m.ModelSamplingSD3().patch(flow_model, 3.0)
    (latent,) = lt.EmptySD3LatentImage().generate(64, 64, 1)
    (sampler,) = c.KSamplerSelect().get_sampler("euler_ancestral")
    (sigmas,) = c.BasicScheduler().get_sigmas(sd3, "simple", 4, 1.0)
    out, denoised = c.SamplerCustom().sample(sd3, True, 1, 1.0, cond(0.2), cond(-0.2), sampler, sigmas, latent)
    assert "downscale_ratio_spacial" not in out and "downscale_ratio_spacial" not in denoised
    assert torch.isfinite(out["samples"]).all()


def test_sampling_percent_to_sigma_on_a_flow_model(flow_model):
    (sd3,) = m.ModelSamplingSD3().patch(flow_model, 3.0)
    node = c.SamplingPercentToSigma()
    assert node.get_sigma(sd3, 0.0, False) == (1.0,)
    assert node.get_sigma(sd3, 1.0, False) == (0.0,)
    assert node.get_sigma(sd3, 0.5, False)[0] == pytest.approx(3 * 0.5 / (1 + 2 * 0.5))
    assert node.get_sigma(sd3, 1.0, True)[0] == pytest.approx(sd3.model_sampling.sigma_min)


def test_inpainting_on_a_flow_model_renoises_the_kept_region_the_flow_way(flow_model):
    """The unmasked region re-noised to σ is σ·noise + (1 − σ)·latent: at σ = 1 the model sees pure noise there."""
    (sd3,) = m.ModelSamplingSD3().patch(flow_model, 3.0)
    seen = []
    forward = flow_model.unet_forward

    def recording(x, timestep, context, extras, control=None):
        seen.append(x.clone())
        return forward(x, timestep, context, extras, control)

    sd3.unet_forward = recording
    original = torch.full((1, 16, 8, 8), 2.0)
    mask = torch.zeros(1, 8, 8)  # keep everything
    lat = {"samples": original, "noise_mask": mask}
    n.KSampler().sample(sd3, 3, 2, 1.0, "euler", "simple", cond(0.2), cond(-0.2), lat)
    noise = prepare_noise(original, 3)
    assert torch.allclose(seen[0], noise, atol=1e-5)  # σ = 1
