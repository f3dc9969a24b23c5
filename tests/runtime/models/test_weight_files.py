"""Weight files are read safely, and bad files give errors naming the file and what was expected."""

import pytest
import torch
from safetensors.torch import save_file

from runtime.loaders import load_checkpoint, load_unet, load_vae
from runtime.weights.files import ModelFileError, load_state_dict


class NotATensor:
    pass


def test_safetensors_are_memory_mapped_views(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.arange(6.0).reshape(2, 3)}, str(path))
    loaded = load_state_dict(path)
    assert loaded["a"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_pickles_load_only_plain_tensors(tmp_path):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "global_step": 3}, good)
    assert list(load_state_dict(good)) == ["w"]
    evil = tmp_path / "evil.ckpt"
    torch.save({"w": torch.ones(2), "obj": NotATensor()}, evil)
    with pytest.raises(ModelFileError, match=r"evil\.ckpt: refused to load"):
        load_state_dict(evil)


def test_truncated_and_garbage_files_name_the_file(tmp_path, tiny_checkpoints):
    data = tiny_checkpoints["sd1"].path.read_bytes()
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut\.safetensors: not a valid \.safetensors file.*truncated"):
        load_checkpoint(truncated)
    garbage = tmp_path / "junk.ckpt"
    garbage.write_bytes(b"not a zip or pickle at all")
    with pytest.raises(ModelFileError, match=r"junk\.ckpt: not a readable PyTorch weight file"):
        load_checkpoint(garbage)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ModelFileError, match="unknown weight file type '.txt'"):
        load_state_dict(tmp_path / "x.txt")


def test_unknown_model_type_names_the_file_and_hints_at_loras(tmp_path):
    lora = tmp_path / "my_lora.safetensors"
    save_file({"lora_unet_down_blocks_0.lora_down.weight": torch.zeros(4, 8)}, str(lora))
    with pytest.raises(ModelFileError, match=r"my_lora\.safetensors: could not detect the model type.*LoRA"):
        load_checkpoint(lora)


def test_wrong_shapes_are_reported_per_tensor(tmp_path, tiny_checkpoints):
    state = dict(load_state_dict(tiny_checkpoints["sd1"].path))
    state["first_stage_model.decoder.conv_in.bias"] = torch.zeros(7)
    broken = tmp_path / "broken.safetensors"
    save_file(state, str(broken))
    with pytest.raises(ModelFileError, match=r"broken\.safetensors \(VAE\).*decoder.conv_in.bias.*\(7,\)"):
        load_checkpoint(broken)


def test_standalone_unet_and_vae_files(tmp_path, tiny_checkpoints):
    from tiny_models import unet_original

    tiny = tiny_checkpoints["sd1"]
    state = load_state_dict(tiny.path)
    vae_file = tmp_path / "vae.safetensors"
    save_file({k.removeprefix("first_stage_model."): v for k, v in state.items()
               if k.startswith("first_stage_model.")}, str(vae_file))
    assert load_vae(vae_file).latent_channels == 4
    diffusers_vae = tmp_path / "diffusers_vae.safetensors"
    save_file(tiny.components["vae"].state_dict(), str(diffusers_vae))
    image = torch.rand(1, 16, 16, 3)
    torch.testing.assert_close(load_vae(diffusers_vae).encode(image), load_vae(vae_file).encode(image))

    unet_file = tmp_path / "unet.safetensors"
    save_file({k: v.contiguous() for k, v in unet_original(tiny.components["unet"]).items()}, str(unet_file))
    diffusers_unet = tmp_path / "diffusers_unet.safetensors"
    save_file(tiny.components["unet"].state_dict(), str(diffusers_unet))
    a, b = load_unet(unet_file), load_unet(diffusers_unet)
    assert a.family == b.family == "sd1"
    x, t, ctx = torch.randn(1, 4, 8, 8), torch.tensor([10.0]), torch.randn(1, 77, 32)
    torch.testing.assert_close(a.unet_forward(x, t, ctx, {}), b.unet_forward(x, t, ctx, {}))
    with pytest.raises(ModelFileError, match=r"vae\.safetensors.*could not detect"):
        load_unet(vae_file)
def test_checkpoint_with_legacy_diffusers_vae_names(tmp_path, tiny_checkpoints):
    tiny = tiny_checkpoints["sd1"]
    state = {k: v for k, v in load_state_dict(tiny.path).items() if not k.startswith("first_stage_model.")}
    legacy = {".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."}
    for key, value in tiny.components["vae"].state_dict().items():
        for new, old in legacy.items():
            key = key.replace(new, old)
        state["first_stage_model." + key] = value.contiguous()
    path = tmp_path / "legacy_vae.safetensors"
    save_file(state, str(path))
    image = torch.rand(1, 16, 16, 3)
    expected = tiny.components["vae"].encode(image.movedim(-1, 1) * 2 - 1).latent_dist.mode()
    torch.testing.assert_close(load_checkpoint(path, output_clip=False)[2].encode(image), expected)


def test_checkpoint_without_vae_or_text_encoder_gives_none(tmp_path, tiny_checkpoints):
    from nodes.stages.text import CLIPTextEncode

    unet_only = {k: v for k, v in load_state_dict(tiny_checkpoints["sd1"].path).items()
                 if k.startswith("model.diffusion_model.")}
    path = tmp_path / "unet_only.safetensors"
    save_file(unet_only, str(path))
    model, clip, vae = load_checkpoint(path)
    assert model.family == "sd1" and clip is None and vae is None
    with pytest.raises(RuntimeError, match="clip input is invalid: None"):
        CLIPTextEncode().encode(clip, "x")
