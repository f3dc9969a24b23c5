"""GLIGENLoader / GLIGENTextBoxApply on a tiny SD1 model: our UNet call with boxes equals diffusers' own GLIGEN
UNet (attention_type="gated") with the same weights; bad boxes and files are refused clearly."""

import pytest
import torch
from safetensors.torch import save_file

from runtime.weights.files import ModelFileError
from nodes.stages.gligen import GLIGENLoader, GLIGENTextBoxApply
from nodes.stages.loaders import CheckpointLoaderSimple
from tests.tiny_models import tiny_unet_config, write_tiny_sd1


@pytest.fixture
def sd1(folders):
    tiny = write_tiny_sd1(folders.models_dir / "checkpoints", "sd1.safetensors")
    model, clip, _ = CheckpointLoaderSimple().load_checkpoint("sd1.safetensors")
    return tiny, model, clip


def gated_reference(tiny, seed=0):
    """diffusers' GLIGEN UNet: the tiny UNet's weights plus random fusers (open gates) and position net."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**tiny_unet_config("sd1"), attention_type="gated").eval().requires_grad_(False)
    missing, unexpected = unet.load_state_dict(tiny.components["unet"].state_dict(), strict=False)
    assert not unexpected and all(".fuser." in k or k.startswith("position_net.") for k in missing)
    for name, parameter in unet.named_parameters():
        if name.endswith(("alpha_attn", "alpha_dense")):
            parameter.fill_(0.7)
    return unet


def write_gligen(reference, model, folder):
    """The reference's fusers and position net under ComfyUI's original GLIGEN names."""
    to_original = {d.removesuffix(".attn1.to_q.weight"): o.removesuffix(".attn1.to_q.weight")
                   for o, d in model.key_map().items() if o.endswith(".attn1.to_q.weight")}
    state = {}
    for key, value in reference.state_dict().items():
        if ".fuser." in key:
            block, rest = key.split(".fuser.")
            state[f"model.diffusion_model.{to_original[block]}.fuser.{rest}"] = value.contiguous()
        elif key.startswith("position_net."):
            state[key] = value.contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "gligen.safetensors"))


def test_unet_call_with_boxes_matches_diffusers_gligen(folders, sd1):
    tiny, model, clip = sd1
    reference = gated_reference(tiny)
    write_gligen(reference, model, folders.models_dir / "gligen")
    (gligen,) = GLIGENLoader().load_gligen("gligen.safetensors")
    (conditioning,) = GLIGENTextBoxApply().append(clip.encode("a photo"), clip, gligen, "a cat", 32, 24, 16, 8)
    (conditioning,) = GLIGENTextBoxApply().append(conditioning, clip, gligen, "a dog", 16, 64, 48, 0)
    context, options = conditioning[0]
    boxes = options["gligen"][2]
    assert [b[1:] for b in boxes] == [(3, 4, 1, 2), (8, 2, 0, 6)]

    g = torch.Generator().manual_seed(1)
    x, timestep = torch.randn(2, 4, 8, 8, generator=g), torch.tensor([500.0, 500.0])
    context = context.expand(2, -1, -1)
    plain = model.unet_forward(x, timestep, context, {})
    extras = model.extra_conds(options, x.shape)
    ours = model.unet_forward(x, timestep, context, {k: v.expand(2, *v.shape[1:]) for k, v in extras.items()})

    coords = torch.zeros(2, 30, 4)
    coords[:, 0] = torch.tensor([2 / 8, 1 / 8, 6 / 8, 4 / 8])
    coords[:, 1] = torch.tensor([6 / 8, 0.0, 8 / 8, 8 / 8])
    texts, masks = torch.zeros(2, 30, context.shape[-1]), torch.zeros(2, 30)
    texts[:, 0], texts[:, 1], masks[:, :2] = boxes[0][0], boxes[1][0], 1.0
    expected = reference(x, timestep, encoder_hidden_states=context, cross_attention_kwargs={
        "gligen": {"boxes": coords, "positive_embeddings": texts, "masks": masks}}).sample
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)
    assert (ours - plain).abs().max() > 1e-3  # the boxes change the prediction
    # lending the fusers leaves calls without boxes (other branches, the negative prompt) untouched
    torch.testing.assert_close(model.unet_forward(x, timestep, context, {}), plain)


def test_box_outside_the_image_is_a_clear_error(folders, sd1):
    tiny, model, clip = sd1
    write_gligen(gated_reference(tiny), model, folders.models_dir / "gligen")
    (gligen,) = GLIGENLoader().load_gligen("gligen.safetensors")
    (conditioning,) = GLIGENTextBoxApply().append(clip.encode(""), clip, gligen, "a cat", 64, 64, 32, 0)
    with pytest.raises(ValueError, match=r"GLIGENTextBoxApply: inputs 'x', 'y', 'width', 'height': the box at "
                                         r"\(32, 0\) of 64×64 px lies outside the 64×64 image.*gligen.safetensors"):
        model.extra_conds(conditioning[0][1], (1, 4, 8, 8))


def test_a_file_without_fusers_is_refused_by_name(folders):
    folder = folders.models_dir / "gligen"
    folder.mkdir(parents=True)
    save_file({"something.weight": torch.zeros(2)}, str(folder / "not_gligen.safetensors"))
    with pytest.raises(ModelFileError, match=r"GLIGENLoader: input 'gligen_name' \(not_gligen.safetensors\).*"
                                             r"is not a GLIGEN model"):
        GLIGENLoader().load_gligen("not_gligen.safetensors")
