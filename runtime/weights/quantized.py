"""fp8 weight files as users have them (spec families.md §0.5), turned into plain weights for the network:

* plain fp8 (`float8_e4m3fn` / `float8_e5m2` tensors): cast to the compute dtype like any other tensor;
* "scaled fp8" (`*_fp8_scaled` files): a top-level `scaled_fp8` marker and per-layer `<layer>.scale_weight`
  (weight = fp8 · scale; `<layer>.scale_input` is an activation hint we do not need);
* "mixed precision" (`*fp8mixed*`): per-layer `<layer>.comfy_quant` (UTF-8 JSON naming the format) with
  `<layer>.weight_scale` (and an optional `input_scale`).

Only float8 formats are understood; the others (nvfp4, mxfp8, int8, …) are refused by name.
"""

from __future__ import annotations

import json

from runtime.weights.files import ModelFileError

FLOAT8_FORMATS = ("float8_e4m3fn", "float8_e5m2")
MARKER = "scaled_fp8"
SCALE_SUFFIXES = (".scale_weight", ".weight_scale")
DROPPED_SUFFIXES = (".scale_input", ".input_scale", ".comfy_quant")


def is_quantized(state_dict) -> bool:
    return MARKER in state_dict or any(k.endswith(SCALE_SUFFIXES + (".comfy_quant",)) for k in state_dict)


def _check_format(layer: str, record, what: str) -> None:
    try:
        spec = json.loads(bytes(record.flatten().tolist()).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{what}: {layer}.comfy_quant is not the JSON of a quantisation format ({error})")
    fmt = spec.get("format")
    if fmt not in FLOAT8_FORMATS:
        raise ModelFileError(f"{what}: layer {layer} is quantised as {fmt!r}, which diffloom cannot read yet "
                             f"(it reads {', '.join(FLOAT8_FORMATS)})")


def dequantize(state_dict: dict, what: str) -> dict:
    """The weights with scaled fp8 layers multiplied out (float32) and the quantisation records dropped; other
    tensors (plain fp8 included) are passed on unchanged, to be cast where the network is built."""
    if not is_quantized(state_dict):
        return state_dict
    out = {}
    for key, value in state_dict.items():
        if key == MARKER or key.endswith(SCALE_SUFFIXES + DROPPED_SUFFIXES):
            if key.endswith(".comfy_quant"):
                _check_format(key[:-len(".comfy_quant")], value, what)
            continue
        layer = key[:-len(".weight")] if key.endswith(".weight") else None
        scale = next((state_dict[layer + s] for s in SCALE_SUFFIXES if layer and layer + s in state_dict), None)
        if scale is not None:
            if scale.numel() != 1:
                raise ModelFileError(f"{what}: {layer} has a {tuple(scale.shape)} weight scale; only per-tensor "
                                     "scales of float8 weights are read")
            value = value.float() * scale.float()
        out[key] = value
    return out
