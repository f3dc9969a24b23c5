"""LoraLoader / LoraLoaderModelOnly: branch isolation, stacking, separate strengths, the parse cache, bad input,
and a whole txt2img graph with a LoRA against diffusers' StableDiffusionPipeline with the LoRA fused."""

import copy

import pytest
import torch
from test_lora_formats import PROMPT, diffusers_fused, our_output, reference_output


def encode(clip):
    return clip.encode_from_tokens(clip.tokenize(PROMPT))[0]


def test_a_lora_in_one_branch_never_reaches_another(tiny_loras, tiny_models_paths, loaded):
    from nodes.stages.lora import LoraLoader

    model, clip = loaded("sd1")
    base_out, base_cond = our_output(model, "sd1"), encode(clip)
    lora_model, lora_clip = LoraLoader().load_lora(model, clip, tiny_loras[("sd1", "kohya")], 1.0, 1.0)
    other_model, _ = LoraLoader().load_lora(model, clip, tiny_loras[("sd1", "second")], 1.0, 1.0)
    lora_out, lora_cond = our_output(lora_model, "sd1"), encode(lora_clip)
    # the branches run interleaved on the shared weights, each seeing only its own patches
    for _ in range(2):
        assert torch.equal(our_output(model, "sd1"), base_out)
        assert torch.equal(our_output(lora_model, "sd1"), lora_out)
        assert not torch.allclose(our_output(other_model, "sd1"), lora_out)
        assert torch.equal(encode(clip), base_cond)
        assert torch.equal(encode(lora_clip), lora_cond)
    assert model.patches == () and clip.patches == {}
    assert float((lora_out - base_out).abs().max()) > 1e-2


def test_stacked_loras_equal_diffusers_adapters_with_their_weights(tiny_checkpoints, tiny_loras, tiny_models_paths,
                                                                   loaded):
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
    from safetensors.torch import load_file

    from nodes.stages.lora import LoraLoader, LoraLoaderModelOnly

    model, clip = loaded("sd1")
    first, _ = LoraLoader().load_lora(model, clip, tiny_loras[("sd1", "kohya")], 0.5, 0.0)
    (stacked,) = LoraLoaderModelOnly().load_lora_model_only(first, tiny_loras[("sd1", "second")], -0.8)

    pipe = StableDiffusionPipeline(**copy.deepcopy(tiny_checkpoints["sd1"].pipeline_components()),
                                   scheduler=EulerDiscreteScheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    for name, adapter in ((tiny_loras[("sd1", "kohya")], "a"), (tiny_loras[("sd1", "second")], "b")):
        pipe.load_lora_weights(load_file(str(tiny_models_paths.get_full_path("loras", name))), adapter_name=adapter)
    pipe.set_adapters(["a", "b"], adapter_weights=[0.5, -0.8])
    theirs = reference_output(pipe.unet, "sd1")
    assert float((our_output(stacked, "sd1") - theirs).abs().max()) < 1e-4
    assert not torch.allclose(our_output(first, "sd1"), theirs, atol=1e-2)


def test_model_and_clip_strengths_are_separate(tiny_loras, tiny_models_paths, loaded):
    from nodes.stages.lora import LoraLoader

    model, clip = loaded("sd1")
    name = tiny_loras[("sd1", "kohya")]
    clip_only_model, clip_only_clip = LoraLoader().load_lora(model, clip, name, 0.0, 1.0)
    model_only_model, model_only_clip = LoraLoader().load_lora(model, clip, name, 1.0, 0.0)
    assert torch.equal(our_output(clip_only_model, "sd1"), our_output(model, "sd1"))
    assert not torch.allclose(encode(clip_only_clip), encode(clip), atol=1e-3)
    assert not torch.allclose(our_output(model_only_model, "sd1"), our_output(model, "sd1"), atol=1e-3)
    assert torch.equal(encode(model_only_clip), encode(clip))
    assert LoraLoader().load_lora(model, clip, name, 0.0, 0.0) == (model, clip)  # both 0: passthrough


def test_loading_the_same_lora_again_reads_nothing(tiny_loras, tiny_models_paths, loaded, monkeypatch):
    import runtime.lora.patches as lora
    from nodes.stages.lora import LoraLoader

    model, clip = loaded("sd1")
    name = tiny_loras[("sd1", "peft")]
    first, _ = LoraLoader().load_lora(model, clip, name, 1.0, 1.0)
    reads = []
    monkeypatch.setattr(lora, "load_state_dict", lambda path: reads.append(path) or {})
    second, _ = LoraLoader().load_lora(model, clip, name, 1.0, 1.0)
    assert reads == []
    # the same parsed deltas: a sampler switching between the two clones keeps the weights as they are
    assert first.patches == second.patches and len(first.patches) > 0


def test_model_only_loader_leaves_clip_keys_alone(tiny_loras, tiny_models_paths, loaded):
    from nodes.stages.lora import LoraLoaderModelOnly

    model, _ = loaded("sd1")
    (patched,) = LoraLoaderModelOnly().load_lora_model_only(model, tiny_loras[("sd1", "kohya")], 1.0)
    assert patched is not model and patched.unet is model.unet
    assert all(p.key.endswith((".weight", ".bias")) for p in patched.patches)
    assert not torch.allclose(our_output(patched, "sd1"), our_output(model, "sd1"), atol=1e-3)


# --- bad input -------------------------------------------------------------------------------------------------------

def write(tiny_models_paths, name, state):
    from safetensors.torch import save_file

    folder = tiny_models_paths.folder_dirs("loras")[0]
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / name))
    return name


def test_a_lora_whose_keys_match_nothing_names_node_input_and_file(tiny_models_paths, loaded):
    from runtime.weights.files import ModelFileError
    from nodes.stages.lora import LoraLoader

    model, clip = loaded("sd1")
    name = write(tiny_models_paths, "nothing_matches.safetensors",
                 {"lora_unet_no_such_block.lora_up.weight": torch.ones(4, 2),
                  "lora_unet_no_such_block.lora_down.weight": torch.ones(2, 4)})
    with pytest.raises(ModelFileError) as error:
        LoraLoader().load_lora(model, clip, name, 1.0, 1.0)
    message = str(error.value)
    assert "LoraLoader" in message and "lora_name" in message and name in message
    assert "lora_unet_no_such_block" in message and "names a weight" in message


def test_a_lora_for_another_model_type_is_refused(tiny_loras, tiny_models_paths, loaded):
    from runtime.weights.files import ModelFileError
    from nodes.stages.lora import LoraLoaderModelOnly

    model, _ = loaded("sd1")
    with pytest.raises(ModelFileError, match=r"LoraLoaderModelOnly: input 'lora_name' \(tiny_sdxl_kohya_ldm"
                                             r".*different model type"):
        LoraLoaderModelOnly().load_lora_model_only(model, tiny_loras[("sdxl", "kohya_ldm")], 1.0)


def test_a_file_that_is_not_a_lora_and_a_missing_file(tiny_checkpoints, tiny_models_paths, loaded):
    import shutil

    from runtime.weights.files import ModelFileError
    from nodes.stages.lora import LoraLoader

    model, clip = loaded("sd1")
    folder = tiny_models_paths.folder_dirs("loras")[0]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_checkpoints["sd1"].path, folder / "a_checkpoint.safetensors")
    with pytest.raises(ModelFileError, match=r"LoraLoader: input 'lora_name' \(a_checkpoint.safetensors\).*not a "
                                             r"LoRA"):
        LoraLoader().load_lora(model, clip, "a_checkpoint.safetensors", 1.0, 1.0)
    with pytest.raises(FileNotFoundError, match=r"LoraLoader: input 'lora_name'.*missing.safetensors"):
        LoraLoader().load_lora(model, clip, "missing.safetensors", 1.0, 1.0)


def test_dora_files_apply_through_the_loader(tiny_models_paths, loaded):
    from nodes.stages.lora import LoraLoader

    model, clip = loaded("sd1")
    base = "lora_unet_down_blocks_0_attentions_0_proj_out"
    g = torch.Generator().manual_seed(0)
    name = write(tiny_models_paths, "dora.safetensors", {
        f"{base}.lora_up.weight": torch.randn(32, 2, 1, 1, generator=g),
        f"{base}.lora_down.weight": torch.randn(2, 32, 1, 1, generator=g),
        f"{base}.dora_scale": torch.rand(1, 32, 1, 1, generator=g)})
    patched, _ = LoraLoader().load_lora(model, clip, name, 1.0, 1.0)
    assert [p.key for p in patched.patches] == ["down_blocks.0.attentions.0.proj_out.weight"]
    assert not torch.allclose(our_output(patched, "sd1"), our_output(model, "sd1"), atol=1e-3)


# --- a whole graph ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_txt2img_with_a_lora_equals_stable_diffusion_pipeline_with_it_fused(tiny_checkpoints, tiny_loras,
                                                                            tiny_models_paths):
    from diffusers import StableDiffusionPipeline
    from tiny_models import euler_scheduler_on

    from runtime.sampling.noise import prepare_noise
    from runtime.sampling.ksampler import ksampler_sigmas
    from nodes.stages.latent import EmptyLatentImage
    from nodes.stages.loaders import CheckpointLoaderSimple
    from nodes.stages.lora import LoraLoader
    from nodes.stages.sampling import KSampler
    from nodes.stages.text import CLIPTextEncode

    steps, cfg, seed, prompt = 6, 5.0, 99, "a red square on a blue background"
    name = tiny_loras[("sd1", "kohya")]
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint(tiny_checkpoints["sd1"].name)
    model, clip = LoraLoader().load_lora(model, clip, name, 0.7, 0.6)
    (positive,) = CLIPTextEncode().encode(clip, prompt)
    (negative,) = CLIPTextEncode().encode(clip, "")
    (latent,) = EmptyLatentImage().generate(64, 64, 1)
    (ours,) = KSampler().sample(model, seed, steps, cfg, "euler", "normal", positive, negative, latent, 1.0)

    # diffusers: the same LoRA fused at the same strengths, its own prompt encoding, and our sigmas, integer
    # timesteps and start latents
    components = diffusers_fused(tiny_checkpoints["sd1"], tiny_models_paths.get_full_path("loras", name), "sd1")
    ms = model.model_sampling
    sigmas = ksampler_sigmas(ms, "euler", "normal", steps, 1.0)
    scheduler = euler_scheduler_on(ms, sigmas)
    pipe = StableDiffusionPipeline(**components, scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    start = prepare_noise(latent["samples"], seed) * float((1 + sigmas[0] ** 2) ** 0.5)
    theirs = pipe(prompt=prompt, negative_prompt="", sigmas=sigmas.tolist(), guidance_scale=cfg,
                  latents=start / float(scheduler.init_noise_sigma), output_type="latent", height=64, width=64).images
    assert float((ours["samples"] * model.latent_format.scale_factor - theirs).abs().max()) < 1e-3
    assert float(theirs.std()) > 0.1
