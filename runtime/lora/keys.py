"""LoRA module names → the weights they patch: every naming scheme of spec §9.4, generated from the networks.

A LoRA file names modules, not parameters; the tables here map each accepted module name to the module path in
our diffusers UNet or transformers text encoder (the parameter is that path + `.weight` or `.bias`). The UNet
table is built from `unet_keys.unet_key_map`, so kohya's original-layout names (`lora_unet_input_blocks_1_1_…`)
and its diffusers-layout names (`lora_unet_down_blocks_0_attentions_0_…`) reach the same weight.
"""

from __future__ import annotations

import weakref

from runtime import families
from runtime.networks.unet_keys import unet_key_map

# network → its name table (text encoders: with the (family, slot) it was built for)
_unet_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_clip_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _modules_with_weights(network) -> list[str]:
    return [key[:-len(".weight")] for key, _ in network.named_parameters() if key.endswith(".weight")]


def _underscored(name: str) -> str:
    return name.replace(".", "_")


def _processor_name(module: str) -> str | None:
    """Old diffusers attention-processor LoRAs name `attn1.to_q` as `attn1.processor.to_q` (`to_out.0` → `to_out`)."""
    if ".to_" not in module:
        return None
    name = module.replace(".to_", ".processor.to_")
    return name[:-2] if name.endswith(".to_out.0") else name


def unet_names(unet) -> dict[str, str]:
    """LoRA module name → diffusers UNet module path (cached per network)."""
    if unet in _unet_cache:
        return _unet_cache[unet]
    parameters = [key for key, _ in unet.named_parameters()]
    original_of = {diffusers: original for original, diffusers in unet_key_map(dict(unet.config), parameters).items()}
    names: dict[str, str] = {}
    for module in _modules_with_weights(unet):
        original = original_of[module + ".weight"][:-len(".weight")]
        for alias in (module, "unet." + module, "lora_unet_" + _underscored(module), "lycoris_" + _underscored(module),
                      "lora_unet_" + _underscored(original), "diffusion_model." + original):
            names[alias] = module
        processor = _processor_name(module)
        if processor:
            names[processor] = names["unet." + processor] = module
    _unet_cache[unet] = names
    return names


def clip_names(model, family: str, slot: str) -> dict[str, str]:
    """LoRA module name → transformers module path of text encoder `slot` (cached per network)."""
    key = (family, slot)
    cached = _clip_cache.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    kohya, diffusers = families.get(family).text_encoder(slot).lora_prefixes
    names: dict[str, str] = {}
    for module in _modules_with_weights(model):
        # real kohya files name the modules of transformers' CLIPTextModel as it was, with its `text_model.` level
        wrapped = module if module.startswith("text_model.") else "text_model." + module
        for prefix in kohya:
            names[prefix + _underscored(module)] = names[prefix + _underscored(wrapped)] = module
        for prefix in diffusers:
            names[prefix + module] = module
        names[f"text_encoders.clip_{slot}.transformer.{module}"] = module  # ComfyUI's own (native) names
    _clip_cache[model] = (key, names)
    return names
