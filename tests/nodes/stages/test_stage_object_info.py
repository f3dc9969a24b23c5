"""Our latent/VAE/image/mask nodes declare exactly what ComfyUI 0.8.0 reports in /object_info for them."""

import json
from pathlib import Path

import pytest

from executor.node_info import node_info
from nodes.stages import image, image_layout, latent, latent_files, mask, vae

ROOT = Path(__file__).resolve().parents[3]
CORE_INFO = ROOT.parent / "shared" / "data" / "comfyui-workflows" / "object_info-core.json"
MODULES = (latent, latent_files, vae, image, image_layout, mask)
OURS = {name: (cls, module) for module in MODULES for name, cls in module.NODE_CLASS_MAPPINGS.items()}
FILE_LISTS = {"LoadImage", "LoadImageMask"}  # combos listing the input folder differ per machine


def reference() -> dict:
    if not CORE_INFO.is_file():
        pytest.skip(f"{CORE_INFO} not available")
    return json.loads(CORE_INFO.read_text())


@pytest.mark.parametrize("name", sorted(OURS))
def test_declaration_matches_comfyui(name):
    ref = reference().get(name)
    if ref is None:
        pytest.skip(f"{name} is not in the core object_info sample")
    cls, module = OURS[name]
    ours = node_info(name, cls, module.NODE_DISPLAY_NAME_MAPPINGS.get(name)
                     if hasattr(module, "NODE_DISPLAY_NAME_MAPPINGS") else None)
    for key in ("input_order", "output", "output_name", "output_is_list", "category", "output_node"):
        assert ours[key] == ref[key], key
    if ref["display_name"] is not None:
        assert ours["display_name"] == ref["display_name"]
    ours_inputs, ref_inputs = ours["input"], json.loads(json.dumps(ref["input"]))
    if name in FILE_LISTS:
        ours_inputs["required"]["image"][0] = ref_inputs["required"]["image"][0] = []
    assert ours_inputs == ref_inputs
