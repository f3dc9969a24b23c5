"""CheckpointLoader's YAML settings and the textual-inversion file layouts."""

import torch
from safetensors.torch import save_file

from runtime.text.embeddings import EmbeddingStore
from nodes.stages.loaders import CheckpointLoader


def test_yaml_parameterization_and_clip_layer(tiny_checkpoints, tiny_models_paths):
    configs = tiny_checkpoints["base_dir"] / "models" / "configs"
    configs.mkdir(exist_ok=True)
    (configs / "v-skip2.yaml").write_text("model:\n  params:\n    parameterization: \"v\"\n"
                                          "    cond_stage_config:\n      params:\n        layer_idx: -2\n")
    (configs / "plain.yaml").write_text("model:\n  params:\n    linear_start: 0.00085\n")
    assert {"v-skip2.yaml", "plain.yaml"} <= set(CheckpointLoader.INPUT_TYPES()["required"]["config_name"][0])
    model, clip, _ = CheckpointLoader().load_checkpoint("v-skip2.yaml", "tiny_sd1.safetensors")
    assert model.model_sampling.prediction_type == "v" and clip.slots[0].layer == -2
    model, clip, _ = CheckpointLoader().load_checkpoint("plain.yaml", "tiny_sd1.safetensors")
    assert model.model_sampling.prediction_type == "eps" and clip.slots[0].layer is None


def test_embedding_layouts(tmp_path):
    a1111 = torch.randn(2, 32)
    torch.save({"string_to_param": {"*": a1111}, "name": "style", "step": 100}, tmp_path / "style.pt")
    xl_l, xl_g = torch.randn(3, 32), torch.randn(3, 64)
    save_file({"clip_l": xl_l, "clip_g": xl_g}, str(tmp_path / "xl.safetensors"))
    save_file({"emb_params": torch.randn(1, 768)}, str(tmp_path / "wide.safetensors"))
    store = EmbeddingStore([tmp_path])
    torch.testing.assert_close(store.get("style", "l", 32), a1111)
    torch.testing.assert_close(store.get("xl", "l", 32), xl_l)
    torch.testing.assert_close(store.get("xl", "g", 64), xl_g)
    assert store.get("wide", "l", 32) is None  # made for another encoder width
    assert store.get("../escape", "l", 32) is None and store.get("absent", "l", 32) is None
