"""fp8 diffusion-model files as users download them (spec families.md §0.5): plain float8 weights, legacy "scaled
fp8" (`scaled_fp8` marker, `<layer>.scale_weight`) and "mixed" (`<layer>.comfy_quant` + `weight_scale`) load
through UNETLoader as the weights they encode; formats diffloom cannot read are refused by layer and format."""

import json

import pytest
import torch
from safetensors.torch import save_file

from runtime.networks import flux
from test_flux import contiguous, load, tiny_flux

FP8 = torch.float8_e4m3fn
FP8_MAX = 448.0


def quantized(bfl: dict, scheme: str) -> tuple[dict, dict]:
    """(the file's tensors, the weights they encode) for the 2-D block weights quantised per tensor."""
    file, expected = {}, {}
    for key, value in bfl.items():
        if not (key.endswith(".weight") and value.ndim == 2 and "_blocks." in key):
            file[key] = expected[key] = value
            continue
        layer = key[:-len(".weight")]
        if scheme == "plain":
            file[key] = value.to(FP8)
            expected[key] = file[key].float()
            continue
        scale = value.abs().max() / FP8_MAX
        file[key] = (value / scale).to(FP8)
        expected[key] = file[key].float() * scale
        if scheme == "scaled":
            file[layer + ".scale_weight"] = scale.reshape(())
            file[layer + ".scale_input"] = torch.tensor(1.0)
        else:
            file[layer + ".weight_scale"] = scale.reshape(())
            file[layer + ".comfy_quant"] = torch.tensor(list(json.dumps({"format": "float8_e4m3fn"}).encode()),
                                                        dtype=torch.uint8)
    if scheme == "scaled":
        file["scaled_fp8"] = torch.empty(0, dtype=FP8)
    return file, expected


@pytest.fixture(scope="module")
def fp8_paths(tmp_path_factory):
    import runtime

    base = tmp_path_factory.mktemp("fp8_base")
    folder = base / "models" / "diffusion_models"
    folder.mkdir(parents=True)
    bfl = flux.from_diffusers(tiny_flux(guidance=True).state_dict())
    expected = {}
    for scheme in ("plain", "scaled", "mixed"):
        file, expected[scheme] = quantized(bfl, scheme)
        prefix = "model.diffusion_model." if scheme == "mixed" else ""
        save_file(contiguous({(prefix if k != "scaled_fp8" else "") + k: v for k, v in file.items()}),
                  str(folder / f"flux_{scheme}.safetensors"))
    file, _ = quantized(bfl, "mixed")
    layer = next(k for k in file if k.endswith(".comfy_quant"))
    file[layer] = torch.tensor(list(json.dumps({"format": "nvfp4"}).encode()), dtype=torch.uint8)
    save_file(contiguous(file), str(folder / "flux_nvfp4.safetensors"))
    with runtime.configured(paths=runtime.Paths.create(base)):
        yield expected, layer[:-len(".comfy_quant")]


@pytest.mark.parametrize("scheme", ["plain", "scaled", "mixed"])
def test_fp8_files_load_as_the_weights_they_encode(fp8_paths, scheme):
    expected, _ = fp8_paths
    model = load(f"flux_{scheme}.safetensors")
    assert model.family == "flux" and model.unet.dtype == torch.float32
    weights = model.unet.state_dict()
    for key, value in flux.to_diffusers(expected[scheme]).items():
        assert torch.equal(weights[key], value.float()), key


def test_quantisation_formats_diffloom_cannot_read_are_refused_by_layer(fp8_paths):
    from runtime.weights.files import ModelFileError

    _, layer = fp8_paths
    with pytest.raises(ModelFileError, match=rf"UNETLoader.*flux_nvfp4\.safetensors.*layer {layer} is quantised as "
                                             r"'nvfp4', which diffloom cannot read yet"):
        load("flux_nvfp4.safetensors")
