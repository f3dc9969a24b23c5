"""The family registry: a family is one module. A dummy family declared only in the test tree opens its own
single-file and diffusion-model files through the loader nodes and samples, with no edit anywhere else."""

import dataclasses

import pytest
import torch
from safetensors.torch import save_file

import dummy_dit
from runtime import families
from runtime.families import UnknownModelError
from tiny_models import L_WIDTH, _clip, clip_original, tiny_vae_config, vae_original

TOKENS = 77


@pytest.fixture
def dummy_family():
    families.register(dummy_dit.FAMILY)
    yield dummy_dit.FAMILY
    families.unregister(dummy_dit.FAMILY.name)


@pytest.fixture(scope="module")
def dummy_files(tmp_path_factory):
    """A tiny checkpoint in the dummy layout and its diffusion model alone; the modules they were made from."""
    from diffusers import AutoencoderKL, PixArtTransformer2DModel

    torch.manual_seed(0)
    network = PixArtTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=8, out_channels=8,
                                       num_layers=2, sample_size=8, patch_size=2, caption_channels=L_WIDTH,
                                       cross_attention_dim=16, norm_type="ada_norm_single",
                                       use_additional_conditions=False).eval()
    vae = AutoencoderKL(**dict(tiny_vae_config("sd1"), latent_channels=8)).eval()
    clip = _clip(3, L_WIDTH, openclip=False, projection=False)
    base = tmp_path_factory.mktemp("dummy_base")
    for folder in ("checkpoints", "diffusion_models"):
        (base / "models" / folder).mkdir(parents=True)
    state = {"model.diffusion_model." + k: v.contiguous() for k, v in network.state_dict().items()}
    state.update({"vae." + k: v.contiguous() for k, v in vae_original(vae).items()})
    state.update({"text_encoders.clip_l.transformer." + k: v.contiguous()
                  for k, v in clip_original(clip, "hf").items()})
    save_file(state, str(base / "models" / "checkpoints" / "dummy.safetensors"))
    save_file({k: v.contiguous() for k, v in network.state_dict().items()},
              str(base / "models" / "diffusion_models" / "dummy_dit.safetensors"))
    return {"base": base, "network": network, "vae": vae, "clip": clip}


@pytest.fixture
def dummy_paths(dummy_files):
    import runtime

    with runtime.configured(paths=runtime.Paths.create(dummy_files["base"])) as settings:
        yield settings.paths


def test_a_family_module_in_the_test_tree_loads_through_checkpoint_loader_simple(dummy_family, dummy_files,
                                                                                   dummy_paths):
    from nodes.stages.loaders import CheckpointLoaderSimple

    model, clip, vae = CheckpointLoaderSimple().load_checkpoint("dummy.safetensors")
    assert model.family == "dummy_dit" and type(model.unet).__name__ == "PixArtTransformer2DModel"
    assert (model.model_sampling.prediction_type, model.latent_format.channels) == ("v", 8)
    assert (model.latent_format.scale_factor, model.latent_format.shift_factor) == (0.5, 0.25)
    for key, value in dummy_files["network"].state_dict().items():
        assert torch.equal(model.unet.state_dict()[key], value), key
    assert [slot.name for slot in clip.slots] == ["l"] and clip.family == "dummy_dit"
    assert vae.latent_channels == 8 and model.latent_format.downscale == vae.downscale_ratio

    # the MODEL calls the network the family's way: the same numbers as calling the diffusers module directly
    x, context = torch.randn(1, 8, 4, 6), torch.randn(1, TOKENS, L_WIDTH)
    ours = model.unet_forward(x, torch.tensor([500.0]), context, {})
    theirs = dummy_files["network"](x, encoder_hidden_states=context, timestep=torch.tensor([500.0]),
                                    added_cond_kwargs={"resolution": None, "aspect_ratio": None}, return_dict=False)[0]
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_its_diffusion_model_file_loads_through_unet_loader_and_samples(dummy_family, dummy_paths):
    from nodes.stages.latent import EmptyLatentImage
    from nodes.stages.loaders import CheckpointLoaderSimple, UNETLoader
    from nodes.stages.sampling import KSampler
    from nodes.stages.text import CLIPTextEncode
    from nodes.stages.vae import VAEDecode

    (model,) = UNETLoader().load_unet("dummy_dit.safetensors", "default")
    assert model.family == "dummy_dit" and model.latent_format.channels == 8
    _, clip, vae = CheckpointLoaderSimple().load_checkpoint("dummy.safetensors")
    (positive,) = CLIPTextEncode().encode(clip, "a red square")
    (negative,) = CLIPTextEncode().encode(clip, "")
    (latent,) = EmptyLatentImage().generate(48, 32, 1)
    (sampled,) = KSampler().sample(model, 1, 2, 3.0, "euler", "normal", positive, negative, latent)
    assert sampled["samples"].shape == (1, 8, 4, 6) and torch.isfinite(sampled["samples"]).all()
    (image,) = VAEDecode().decode(vae, sampled)
    assert image.shape == (1, 32, 48, 3)


def test_without_the_module_the_same_file_is_not_recognised(dummy_files, dummy_paths):
    from nodes.stages.loaders import CheckpointLoaderSimple
    from runtime.weights.files import ModelFileError

    with pytest.raises(ModelFileError, match=r"dummy\.safetensors: could not detect the model type"):
        CheckpointLoaderSimple().load_checkpoint("dummy.safetensors")


def test_its_text_encoder_type_is_offered_to_clip_loader_once_registered(dummy_family):
    assert "dummy_dit" in families.clip_types()
    assert families.for_clip_type("dummy_dit", ["l"]) is dummy_family
    assert families.for_clip_type("stable_diffusion", ["l"]).name == "sd1"


def test_two_families_of_equal_priority_that_accept_one_file_are_an_error(dummy_family, dummy_files):
    twin = dataclasses.replace(dummy_family, name="dummy_twin")
    families.register(twin)
    try:
        state = {"model.diffusion_model." + k: v for k, v in dummy_files["network"].state_dict().items()}
        with pytest.raises(UnknownModelError, match="several families.*dummy_dit, dummy_twin"):
            families.detect_checkpoint(state)
        families.unregister(twin.name)
        families.register(dataclasses.replace(twin, priority=1))
        assert families.detect_checkpoint(state).family == "dummy_twin"  # a narrower rule wins
    finally:
        families.unregister(twin.name)


def test_names_are_unique_and_unknown_names_say_what_is_known():
    with pytest.raises(ValueError, match="already registered"):
        families.register(dataclasses.replace(families.get("sd1")))
    with pytest.raises(KeyError, match="unknown model family 'sd9'.*sd1, sd2, sd3, sdxl, sdxl_refiner"):
        families.get("sd9")


def test_the_built_in_families_are_the_modules_of_the_package():
    import pkgutil

    modules = sorted(m.name for m in pkgutil.iter_modules(families.__path__))  # each named as its family
    assert {"sd1", "sd2", "sdxl", "sdxl_refiner"} <= set(modules)
    assert [f.name for f in families.known()][:len(modules)] == modules
    assert families.get("sdxl").fits("sdxl_refiner") and not families.get("sd1").fits("sd2")
