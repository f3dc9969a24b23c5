"""SaveLatent / LoadLatent (spec §8.4): latents as `.latent` safetensors files with workflow metadata."""

from __future__ import annotations

import json

from runtime.settings import current
from runtime.imaging import files

# Files written before ComfyUI stored raw latents lack this key and hold latents scaled by SD1's factor.
VERSION_KEY = "latent_format_version_0"
LEGACY_SCALE = 0.18215


def latent_files() -> list[str]:
    folder = current().paths.input_dir
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(".latent")) \
        if folder.is_dir() else []


class SaveLatent:
    """Write the latent to `<output>/<prefix>_<counter:05>_.latent` (tensor `latent_tensor`)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",), "filename_prefix": ("STRING", {"default": "latents/ComfyUI"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = "_for_testing"

    def save(self, samples, filename_prefix="latents/ComfyUI", prompt=None, extra_pnginfo=None):
        import torch
        from safetensors.torch import save_file

        from runtime.imaging import png_metadata

        try:
            target = files.save_target(filename_prefix, current().paths.output_dir)
        except ValueError as error:
            raise ValueError(f"SaveLatent: input 'filename_prefix': {error}") from None
        metadata = None
        if png_metadata.is_enabled():
            metadata = {"prompt": json.dumps(prompt) if prompt is not None else ""}
            metadata.update({key: json.dumps(value) for key, value in (extra_pnginfo or {}).items()})
        name = target.next_name(0, extension=".latent")
        tensors = {"latent_tensor": samples["samples"].contiguous(), VERSION_KEY: torch.tensor([])}
        save_file(tensors, str(target.folder / name), metadata=metadata)
        return {"ui": {"latents": [{"filename": name, "subfolder": target.subfolder, "type": "output"}]}}


class LoadLatent:
    """A `.latent` file from the input folder (legacy scaled files are unscaled on load)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"latent": (latent_files(),)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "load"
    CATEGORY = "_for_testing"

    def load(self, latent):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = files.annotated_path(latent)
        try:
            tensors = load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as error:
            raise ValueError(f"LoadLatent: input 'latent': {path} is not a readable .latent file ({error})") from None
        if "latent_tensor" not in tensors:
            raise ValueError(f"LoadLatent: input 'latent': {path} has no 'latent_tensor' entry")
        multiplier = 1.0 if VERSION_KEY in tensors else 1.0 / LEGACY_SCALE
        return ({"samples": tensors["latent_tensor"].float() * multiplier},)

    @classmethod
    def IS_CHANGED(cls, latent):
        return files.file_sha256(files.annotated_path(latent))

    @classmethod
    def VALIDATE_INPUTS(cls, latent):
        return True if files.annotated_path_exists(latent) else f"Invalid latent file: {latent}"


NODE_CLASS_MAPPINGS = {"SaveLatent": SaveLatent, "LoadLatent": LoadLatent}
