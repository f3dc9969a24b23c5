"""Control-LoRAs (Stability's `control-lora-*` layout): built from the sampling MODEL's UNet plus the file's low-rank
differences, they give the same residuals as the full ControlNet they encode; on another model type they fail
with a clear error."""

import pytest
import torch

PROMPT = "a red square on a blue background"


@pytest.fixture(scope="module")
def control_lora(tiny_checkpoints):
    from tiny_models import write_tiny_controlnet

    folder = tiny_checkpoints["base_dir"] / "models" / "controlnet"
    path, _ = write_tiny_controlnet(tiny_checkpoints["sd1"], folder, "control_lora", "tiny_control_lora.safetensors")
    return path.name


def residuals(control, model, cond):
    from nodes.stages.controlnet import ControlNetApplyAdvanced

    hint = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(3))
    positive, _ = ControlNetApplyAdvanced().apply_controlnet(cond, cond, control, hint, 1.0, 0.0, 1.0)
    applied = positive[0][1]["control"]
    applied.pre_run(model)
    batch = {"x_in": torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1)),
             "timestep": torch.tensor([500.0]), "context": cond[0][0], "extras": {}}
    return applied.get_control(batch["x_in"], torch.tensor([5.0]), batch, 1)


def test_a_control_lora_equals_the_controlnet_it_encodes(control_lora, tiny_controlnets, tiny_models_paths,
                                                         loaded_models):
    from nodes.stages.controlnet import ControlNetLoader
    from nodes.stages.text import CLIPTextEncode

    model, clip = loaded_models("sd1")
    (cond,) = CLIPTextEncode().encode(clip, PROMPT)
    (full,) = ControlNetLoader().load_controlnet(tiny_controlnets[("sd1", "original")][0])
    (lora,) = ControlNetLoader().load_controlnet(control_lora)
    expected, got = residuals(full, model, cond), residuals(lora, model, cond)
    assert lora.family == "sd1" and float(expected["mid"].abs().max()) > 0.01
    torch.testing.assert_close(got["mid"], expected["mid"], atol=1e-4, rtol=1e-3)
    for ours, theirs in zip(got["down"], expected["down"]):
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-3)


def test_a_control_lora_on_another_model_type_names_the_layer(control_lora, tiny_models_paths, loaded_models):
    from runtime.weights.files import ModelFileError
    from nodes.stages.controlnet import ControlNetLoader
    from nodes.stages.text import CLIPTextEncode

    model, clip = loaded_models("sdxl")
    (cond,) = CLIPTextEncode().encode(clip, PROMPT)
    (lora,) = ControlNetLoader().load_controlnet(control_lora)
    with pytest.raises(ModelFileError, match="tiny_control_lora.safetensors.*Control-LoRA"):
        residuals(lora, model, cond)
