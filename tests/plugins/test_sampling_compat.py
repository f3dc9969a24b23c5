"""`comfy.samplers` and `comfy.sample` for custom nodes: a ComfyUI-style sampling pack (packs/sampling_pack) builds its
combos from `KSampler.SAMPLERS`/`SCHEDULERS` and samples through `comfy.sample` and `KSAMPLER`, with the very
results of diffloom's own nodes."""

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from runtime.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES

PACK = Path(__file__).parent / "packs" / "sampling_pack"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _compat(compat):
    torch.set_num_threads(1)


@pytest.fixture
def pack(load, custom_nodes, registry):
    shutil.copytree(PACK, custom_nodes / "sampling_pack")
    report = load().reports["sampling_pack"]
    assert report.status == "loaded", report.traceback
    return registry


@pytest.fixture
def sd1(base_dir):
    """A tiny SD1 MODEL and its positive and negative conditioning."""
    from tiny_models import write_tiny_sd1

    from runtime.loaders import load_checkpoint

    tiny = write_tiny_sd1(base_dir / "models" / "checkpoints", "sd1.safetensors")
    model, clip = load_checkpoint(tiny.path)[:2]
    return model, clip.encode("a lighthouse"), clip.encode("")


def test_the_pack_combos_are_diffloom_sampler_and_scheduler_names(pack):
    import comfy.samplers

    assert comfy.samplers.KSampler.SAMPLERS == list(SAMPLER_NAMES)
    assert comfy.samplers.KSampler.SCHEDULERS == list(SCHEDULER_NAMES)
    assert comfy.samplers.SAMPLER_NAMES == list(SAMPLER_NAMES)
    assert "euler" in comfy.samplers.KSAMPLER_NAMES and "ddim" not in comfy.samplers.KSAMPLER_NAMES
    required = pack.object_info("PackKSampler")["PackKSampler"]["input"]["required"]
    assert required["sampler_name"][0] == list(SAMPLER_NAMES)
    assert required["scheduler"][0] == list(SCHEDULER_NAMES)


def test_shims_hand_out_diffloom_own_functions():
    import comfy.samplers

    from runtime.sampling import guidance, samplers, schedules

    assert comfy.samplers.sampler_object is samplers.sampler_object
    assert comfy.samplers.calculate_sigmas is schedules.calculate_sigmas
    assert comfy.samplers.CFGGuider is guidance.Guider
    with pytest.raises(AttributeError, match=r"comfy\.samplers\.sampling_function is not supported.*KSampler"):
        comfy.samplers.sampling_function
    with pytest.raises(ImportError, match="cannot import name 'common_upscale'"):
        exec("from comfy.sample import common_upscale", {})


def test_importing_the_shims_does_not_import_torch():
    code = ("import sys; from nodes.plugins import compat_import; compat_import.install(); "
            "import comfy.samplers, comfy.sample; comfy.samplers.KSampler.SAMPLERS; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pack_ksampler_equals_diffloom_ksampler(pack, sd1):
    from nodes.stages.sampling import KSampler

    model, positive, negative = sd1
    latent = {"samples": torch.zeros(2, 4, 8, 8), "batch_index": [3, 1]}
    ours = KSampler().sample(model, 77, 3, 5.0, "euler_ancestral", "karras", positive, negative, latent, 1.0)[0]
    node = pack.classes["PackKSampler"]()
    theirs = node.sample(model, 77, 3, 5.0, "euler_ancestral", "karras", positive, negative, latent, 1.0)[0]
    assert torch.equal(theirs["samples"], ours["samples"]) and theirs["batch_index"] == [3, 1]
    other = node.sample(model, 78, 3, 5.0, "euler_ancestral", "karras", positive, negative, latent, 1.0)[0]
    assert not torch.equal(other["samples"], ours["samples"])  # the seed reaches the noise and the sampler


def test_comfy_ksampler_class_samples_like_comfy_sample(sd1):
    import comfy.sample
    import comfy.samplers

    model, positive, negative = sd1
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 5)
    sampler = comfy.samplers.KSampler(model, 4, None, "dpmpp_2m", "normal", denoise=1.0)
    assert torch.equal(sampler.sigmas, comfy.samplers.calculate_sigmas(model.model_sampling, "normal", 4))
    steps = []
    out = sampler.sample(noise, positive, negative, 4.0, latent, seed=5, callback=lambda *a: steps.append(a[0]))
    expected = comfy.sample.sample(model, noise, 4, 4.0, "dpmpp_2m", "normal", positive, negative, latent, seed=5)
    assert torch.equal(out, expected) and steps == [0, 1, 2, 3]


def test_a_k_diffusion_style_sampler_function_runs_as_a_sampler(pack, sd1):
    import comfy.sample

    from runtime.sampling.samplers import sampler_object
    from runtime.sampling.schedules import calculate_sigmas
    from nodes.stages.custom_sampling import SamplerCustom

    model, positive, negative = sd1
    (plain_euler,) = pack.classes["PackPlainEuler"]().get_sampler()
    sigmas = calculate_sigmas(model.model_sampling, "karras", 3)
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    theirs = SamplerCustom().sample(model, True, 9, 3.0, positive, negative, plain_euler, sigmas, latent)
    ours = SamplerCustom().sample(model, True, 9, 3.0, positive, negative, sampler_object("euler"), sigmas, latent)
    for mine, reference in zip(theirs, ours):  # output, and denoised_output from the step callback
        torch.testing.assert_close(mine["samples"], reference["samples"], atol=1e-5, rtol=1e-5)

    noise = comfy.sample.prepare_noise(latent["samples"], 9)
    steps = []
    custom = comfy.sample.sample_custom(model, noise, 3.0, plain_euler, sigmas, positive, negative, latent["samples"],
                                        callback=lambda step, x0, x, total: steps.append((step, total)), seed=9)
    torch.testing.assert_close(custom, theirs[0]["samples"], atol=1e-6, rtol=1e-6)
    assert steps == [(0, 3), (1, 3), (2, 3)]


def test_named_samplers_carry_their_options(pack):
    (sampler,) = pack.classes["PackSamplerByName"]().get_sampler("euler_ancestral", 0.25)
    assert sampler.name == "euler_ancestral" and sampler.options == {"eta": 0.25}
    import comfy.samplers

    assert comfy.samplers.ksampler("euler", inpaint_options={"random": True}).random_inpaint_noise
    with pytest.raises(ValueError, match="unknown sampler 'nope'"):
        comfy.samplers.ksampler("nope")


def test_fix_empty_latent_channels_takes_the_model(sd1):
    import comfy.sample

    model, _, _ = sd1
    widened = comfy.sample.fix_empty_latent_channels(model, torch.zeros(1, 16, 8, 8)[:, :1])
    assert widened.shape == (1, 4, 8, 8)
    kept = torch.ones(1, 1, 8, 8)
    assert comfy.sample.fix_empty_latent_channels(model, kept) is kept
    assert importlib.import_module("comfy.sample").__file__.endswith("comfy_compat/comfy/sample.py")
