"""ControlNetLoader / DiffControlNetLoader: SD1.x and SDXL files in the original, diffusers and diff layouts load
into a network equal to the one that was saved; wrong files and wrong model types fail naming node, input and file;
the node declarations match ComfyUI's /object_info."""

import json
from pathlib import Path

import pytest
import torch

from executor.node_info import node_info

CORE_INFO = Path(__file__).resolve().parents[4] / "shared" / "data" / "comfyui-workflows" / \
    "object_info-core.json"


def load(tiny_controlnets, loaded_models, family, layout):
    from nodes.stages.controlnet import ControlNetLoader, DiffControlNetLoader

    name = tiny_controlnets[(family, layout)][0]
    if layout == "diff":
        return DiffControlNetLoader().load_controlnet(loaded_models(family)[0], name)[0]
    return ControlNetLoader().load_controlnet(name)[0]


def network_inputs(family, context_dim):
    generator = torch.Generator().manual_seed(4)
    inputs = dict(sample=torch.randn(2, 4, 8, 8, generator=generator), timestep=torch.tensor([900.0, 100.0]),
                  encoder_hidden_states=torch.randn(2, 77, context_dim, generator=generator),
                  controlnet_cond=torch.rand(2, 3, 64, 64, generator=generator))
    if family == "sdxl":
        inputs["added_cond_kwargs"] = {"text_embeds": torch.randn(2, 64, generator=generator),
                                       "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]] * 2)}
    return inputs


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
@pytest.mark.parametrize("layout", ["original", "diffusers", "diff"])
def test_every_layout_loads_the_saved_network(tiny_controlnets, tiny_models_paths, loaded_models, family, layout):
    control = load(tiny_controlnets, loaded_models, family, layout)
    reference = tiny_controlnets[(family, layout)][1]
    assert control.family == family
    assert dict(control.weights.network.config)["down_block_types"] == list(reference.config.down_block_types)
    inputs = network_inputs(family, reference.config.cross_attention_dim)
    with torch.no_grad():
        down, mid = control.weights.network(**inputs, return_dict=False)
        ref_down, ref_mid = reference(**inputs, return_dict=False)
    assert len(down) == len(ref_down) > 0
    for ours, theirs in zip([*down, mid], [*ref_down, ref_mid]):
        assert float((ours - theirs).abs().max()) < 1e-4
    assert float(mid.abs().max()) > 0.1  # the output convs are not zero: a real comparison


# --- bad input -------------------------------------------------------------------------------------------------------

def conditioning(clip, text="a cat"):
    from nodes.stages.text import CLIPTextEncode

    return CLIPTextEncode().encode(clip, text)[0]


def test_an_sdxl_controlnet_on_sd1_conditioning_names_node_input_and_file(tiny_controlnets, tiny_models_paths,
                                                                          loaded_models):
    from nodes.stages.controlnet import ControlNetApply, ControlNetApplyAdvanced

    control = load(tiny_controlnets, loaded_models, "sdxl", "original")
    cond = conditioning(loaded_models("sd1")[1])
    image = torch.rand(1, 64, 64, 3)
    name = tiny_controlnets[("sdxl", "original")][0]
    with pytest.raises(ValueError, match=rf"ControlNetApplyAdvanced: input 'control_net': the ControlNet {name} is "
                                         r"for sdxl models .*wrong model type"):
        ControlNetApplyAdvanced().apply_controlnet(cond, cond, control, image, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"ControlNetApply: input 'control_net'.*wrong model type"):
        ControlNetApply().apply_controlnet(cond, control, image, 1.0)


def test_a_controlnet_meeting_another_model_family_at_sampling_fails_clearly(tiny_controlnets, tiny_models_paths,
                                                                           loaded_models):
    control = load(tiny_controlnets, loaded_models, "sd1", "original")
    applied = control.applied(torch.rand(1, 3, 64, 64), 1.0, (0.0, 1.0), None, "ControlNetApplyAdvanced")
    with pytest.raises(ValueError, match=r"ControlNetApplyAdvanced: input 'control_net': the ControlNet "
                                         r"tiny_sd1_controlnet_original.safetensors is for SD1.x models but the "
                                         r"MODEL is SDXL"):
        applied.pre_run(loaded_models("sdxl")[0])


def test_a_diff_controlnet_for_another_model_type(tiny_controlnets, tiny_models_paths, loaded_models):
    from runtime.weights.files import ModelFileError
    from nodes.stages.controlnet import DiffControlNetLoader

    name = tiny_controlnets[("sdxl", "diff")][0]
    with pytest.raises(ModelFileError, match=rf"DiffControlNetLoader: input 'control_net_name' \({name}\).*model type"):
        DiffControlNetLoader().load_controlnet(loaded_models("sd1")[0], name)


def test_a_diff_controlnet_needs_the_diff_loader(tiny_controlnets, tiny_models_paths):
    from runtime.weights.files import ModelFileError
    from nodes.stages.controlnet import ControlNetLoader

    with pytest.raises(ModelFileError, match=r"ControlNetLoader: input 'control_net_name'.*DiffControlNetLoader"):
        ControlNetLoader().load_controlnet(tiny_controlnets[("sd1", "diff")][0])


def test_files_that_are_not_controlnets(tiny_checkpoints, tiny_models_paths):
    import shutil

    from runtime.weights.files import ModelFileError
    from nodes.stages.controlnet import ControlNetLoader

    folder = tiny_models_paths.folder_dirs("controlnet")[0]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_checkpoints["sd1"].path, folder / "a_checkpoint.safetensors")
    with pytest.raises(ModelFileError, match=r"ControlNetLoader: input 'control_net_name' \(a_checkpoint.safetensors\)"
                                             r": neither a ControlNet nor a T2I-Adapter; expected a ControlNet"):
        ControlNetLoader().load_controlnet("a_checkpoint.safetensors")
    with pytest.raises(FileNotFoundError, match=r"ControlNetLoader: input 'control_net_name'.*missing.safetensors"):
        ControlNetLoader().load_controlnet("missing.safetensors")


def test_an_image_that_is_not_an_image(tiny_controlnets, tiny_models_paths, loaded_models):
    from nodes.stages.controlnet import ControlNetApplyAdvanced

    control = load(tiny_controlnets, loaded_models, "sd1", "original")
    cond = conditioning(loaded_models("sd1")[1])
    with pytest.raises(ValueError, match=r"ControlNetApplyAdvanced: input 'image' must be an IMAGE"):
        ControlNetApplyAdvanced().apply_controlnet(cond, cond, control, torch.rand(64, 64), 1.0, 0.0, 1.0)


# --- declarations ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["LoraLoader", "LoraLoaderModelOnly", "ControlNetLoader", "DiffControlNetLoader",
                                  "ControlNetApply", "ControlNetApplyAdvanced", "Canny"])
def test_declarations_match_comfyui(name):
    from nodes.stages import controlnet, lora

    if not CORE_INFO.is_file():
        pytest.skip(f"{CORE_INFO} not available")
    reference = json.loads(CORE_INFO.read_text())[name]
    module = lora if name in lora.NODE_CLASS_MAPPINGS else controlnet
    ours = node_info(name, module.NODE_CLASS_MAPPINGS[name], module.NODE_DISPLAY_NAME_MAPPINGS.get(name))
    for key in ("input_order", "output", "output_name", "output_is_list", "category", "output_node"):
        assert ours[key] == reference[key], key
    if reference["display_name"] is not None:
        assert ours["display_name"] == reference["display_name"]
    if "deprecated" in reference:
        assert ours.get("deprecated", False) == reference["deprecated"]
    ours_inputs, ref_inputs = json.loads(json.dumps(ours["input"])), reference["input"]
    for section in ours_inputs.values():  # file combos list this machine's files
        for key in ("lora_name", "control_net_name"):
            if key in section:
                section[key][0] = []
    assert ours_inputs == ref_inputs


def test_sdxl_residuals_see_the_size_and_pooled_extras(tiny_controlnets, tiny_models_paths, loaded_models):
    # get_control hands the batch's SDXL text_embeds/time_ids to the ControlNet (and drops what it cannot take)
    control = load(tiny_controlnets, loaded_models, "sdxl", "original")
    reference = tiny_controlnets[("sdxl", "original")][1]
    applied = control.applied(torch.rand(1, 3, 64, 64), 0.7, (0.0, 1.0), None, "ControlNetApplyAdvanced")
    applied.pre_run(loaded_models("sdxl")[0])
    inputs = network_inputs("sdxl", 96)
    batch = {"x_in": inputs["sample"], "timestep": inputs["timestep"], "context": inputs["encoder_hidden_states"],
             "extras": {**inputs["added_cond_kwargs"], "c_concat": torch.zeros(2, 5, 8, 8)}}
    ours = applied.get_control(inputs["sample"], torch.tensor([3.0, 3.0]), batch, 2)
    with torch.no_grad():
        down, mid = reference(inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"],
                              applied.hint.repeat(2, 1, 1, 1), conditioning_scale=0.7,
                              added_cond_kwargs=inputs["added_cond_kwargs"], return_dict=False)
    assert float((ours["mid"] - mid).abs().max()) < 1e-4
    assert all(float((a - b).abs().max()) < 1e-4 for a, b in zip(ours["down"], down))


def test_shuffle_controlnets_pool_their_residuals(tiny_controlnets, tiny_models_paths, loaded_models):
    import shutil

    from nodes.stages.controlnet import ControlNetLoader

    folder = tiny_models_paths.folder_dirs("controlnet")[0]
    shutil.copy(folder / tiny_controlnets[("sd1", "original")][0], folder / "tiny_shuffle.safetensors")
    (control,) = ControlNetLoader().load_controlnet("tiny_shuffle.safetensors")
    applied = control.applied(torch.rand(1, 3, 64, 64), 1.0, (0.0, 1.0), None, "ControlNetApplyAdvanced")
    applied.pre_run(loaded_models("sd1")[0])
    inputs = network_inputs("sd1", 32)
    batch = {"x_in": inputs["sample"], "timestep": inputs["timestep"], "context": inputs["encoder_hidden_states"],
             "extras": {}}
    residuals = applied.get_control(inputs["sample"], torch.tensor([3.0, 3.0]), batch, 2)
    assert all(t.shape[-2:] == (1, 1) for t in [*residuals["down"], residuals["mid"]])


def test_a_diff_controlnet_adds_the_base_weights_even_after_a_lora_ran(tiny_checkpoints, tiny_controlnets,
                                                                       tiny_models_paths, loaded_models):
    # a LoRA clone that sampled last leaves its patches in the shared UNet; the diff ControlNet must not see them
    from runtime.lora.patches import apply_lora, parse_lora
    from tiny_models import tiny_lora_state

    model, _ = loaded_models("sd1")
    lora = parse_lora(tiny_lora_state(tiny_checkpoints["sd1"], "kohya", text=False), Path("bench.safetensors"))
    patched, _ = apply_lora(lora, model, None, 1.0)
    patched.unet_forward(torch.zeros(1, 4, 8, 8), torch.tensor([10.0]), torch.zeros(1, 77, 32), {})
    control = load(tiny_controlnets, loaded_models, "sd1", "diff")
    reference = tiny_controlnets[("sd1", "diff")][1]
    inputs = network_inputs("sd1", 32)
    with torch.no_grad():
        ours = control.weights.network(**inputs, return_dict=False)[1]
        theirs = reference(**inputs, return_dict=False)[1]
    assert float((ours - theirs).abs().max()) < 1e-4
