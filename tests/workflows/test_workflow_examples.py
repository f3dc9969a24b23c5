"""The example workflows in workflows/: ComfyUI editor format, consistent links, known node types, widget values
in the order the editor writes them, and only the documented placeholder file names."""

import json
from pathlib import Path

import pytest

import nodes

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
CORE_INFO = ROOT.parent / "shared" / "data" / "comfyui-workflows" / "object_info-core.json"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
NODE_FIELDS = {"id", "type", "pos", "size", "flags", "order", "mode", "inputs", "outputs", "properties",
               "widgets_values"}
# Placeholder files the examples name (docs/nodes.md): models under models/<folder>/, images under input/.
PLACEHOLDERS = {
    "ckpt_name": {"toy.safetensors"},
    "lora_name": {"toy_huge.safetensors"},
    "control_net_name": {"toy_silhouette.safetensors"},
    "image": {"example.png", "inpaint_example.png", "toy_silhouette.png"},
}
EXPECTED = {"txt2img", "img2img", "inpaint", "outpaint", "lora", "controlnet", "hires_fix", "area_composition"}


def core_info() -> dict:
    return json.loads(CORE_INFO.read_text()) if CORE_INFO.is_file() else {}


def declared_inputs(class_type: str) -> dict:
    """{"required": {...}, "optional": {...}} from our class, else from ComfyUI's object_info."""
    if class_type in nodes.NODE_CLASS_MAPPINGS:
        return nodes.NODE_CLASS_MAPPINGS[class_type].INPUT_TYPES()
    info = core_info().get(class_type)
    if info is None:
        pytest.skip(f"{class_type} is neither registered nor in {CORE_INFO}")
    return info["input"]


def widget_names(class_type: str) -> list[str]:
    """Widget slots in editor order, with the seed control and upload button after their inputs."""
    names = []
    for category in ("required", "optional"):
        for name, spec in (declared_inputs(class_type).get(category) or {}).items():
            kind = spec[0]
            if not (isinstance(kind, (list, tuple)) or kind in WIDGET_TYPES):
                continue
            options = spec[1] if len(spec) > 1 else {}
            names.append(name)
            if options.get("control_after_generate"):
                names.append("control_after_generate")
            if options.get("image_upload"):
                names.append("upload")
    return names


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_example_is_present():
    assert {path.stem for path in WORKFLOWS} == EXPECTED


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_editor_structure_and_links(path):
    workflow = load(path)
    assert workflow["version"] == 0.4
    assert {node["id"] for node in workflow["nodes"]} == set(range(1, workflow["last_node_id"] + 1))
    assert len(workflow["links"]) == workflow["last_link_id"]
    by_id = {node["id"]: node for node in workflow["nodes"]}
    for node in workflow["nodes"]:
        assert NODE_FIELDS <= set(node), f"{path.name}: node {node['id']} lacks {NODE_FIELDS - set(node)}"
        assert node["properties"]["Node name for S&R"] == node["type"]
    for link_id, origin, origin_slot, target, target_slot, kind in workflow["links"]:
        output = by_id[origin]["outputs"][origin_slot]
        entry = by_id[target]["inputs"][target_slot]
        assert link_id in output["links"] and entry["link"] == link_id
        assert output["type"] == entry["type"] == kind
    orders = sorted(node["order"] for node in workflow["nodes"])
    assert orders == list(range(len(workflow["nodes"])))
    for link_id, origin, _, target, _, _ in workflow["links"]:
        assert by_id[origin]["order"] < by_id[target]["order"], f"{path.name}: link {link_id} runs backwards"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_node_types_widgets_and_placeholders(path):
    known = set(nodes.NODE_CLASS_MAPPINGS) | set(core_info())
    for node in load(path)["nodes"]:
        assert node["type"] in known, f"{path.name}: unknown node type {node['type']}"
        names = widget_names(node["type"])
        assert len(node["widgets_values"]) == len(names), f"{path.name}: {node['type']} widgets {names}"
        values = dict(zip(names, node["widgets_values"]))
        for name, allowed in PLACEHOLDERS.items():
            if name in values:
                assert values[name] in allowed, f"{path.name}: {node['type']}.{name} = {values[name]!r}"
        linked_inputs = {entry["name"] for entry in node["inputs"] if entry["link"] is not None}
        required = declared_inputs(node["type"]).get("required", {})
        sockets = {name for name, spec in required.items() if name not in names}
        assert sockets <= linked_inputs, f"{path.name}: {node['type']} has unlinked inputs {sockets - linked_inputs}"


def stand_in(class_type: str) -> type:
    """A class declared like ComfyUI's (from object_info) for node types this checkout does not implement yet;
    file combos list the placeholder names."""
    info = core_info().get(class_type)
    if info is None:
        pytest.skip(f"{class_type} is neither registered nor in {CORE_INFO}")
    declared = json.loads(json.dumps(info["input"]))
    for name, allowed in PLACEHOLDERS.items():
        if name in declared.get("required", {}) and name != "image":
            declared["required"][name][0] = sorted(allowed)
    return type(class_type, (), {"INPUT_TYPES": classmethod(lambda cls: declared),
                                 "RETURN_TYPES": tuple(info["output"]), "FUNCTION": "run",
                                 "OUTPUT_NODE": info["output_node"], "CATEGORY": info["category"]})


@pytest.fixture
def placeholder_files(tmp_path):
    """A base directory holding (empty) files under every placeholder name."""
    from PIL import Image

    import runtime

    with runtime.configured(paths=runtime.Paths.create(tmp_path)) as settings:
        yield _write_placeholders(settings.paths)


def _write_placeholders(paths):
    from PIL import Image

    for folder, key in (("checkpoints", "ckpt_name"), ("loras", "lora_name"), ("controlnet", "control_net_name")):
        (paths.models_dir / folder).mkdir(parents=True, exist_ok=True)
        for name in PLACEHOLDERS[key]:
            (paths.models_dir / folder / name).write_bytes(b"placeholder")
    paths.input_dir.mkdir(parents=True)
    for name in PLACEHOLDERS["image"]:
        Image.new("RGBA", (64, 64)).save(paths.input_dir / name)
    return paths


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_examples_convert_and_validate(path, placeholder_files):
    """Every example converts to an API prompt that passes validation (stand-ins for nodes not written yet)."""
    convert = pytest.importorskip("executor.convert")
    from executor.validate import describe, validate_prompt

    workflow = load(path)
    classes = dict(nodes.NODE_CLASS_MAPPINGS)
    for node in workflow["nodes"]:
        classes.setdefault(node["type"], stand_in(node["type"]))
    prompt = convert.editor_to_api(workflow, classes)
    assert {entry["class_type"] for entry in prompt.values()} == {node["type"] for node in workflow["nodes"]}
    result = validate_prompt(prompt, classes)
    assert result.ok, f"{path.name}:\n{describe(result)}"


def test_txt2img_converts_to_the_expected_sampler_inputs(placeholder_files):
    convert = pytest.importorskip("executor.convert")
    workflow = load(ROOT / "workflows" / "txt2img.json")
    classes = dict(nodes.NODE_CLASS_MAPPINGS)
    for node in workflow["nodes"]:
        classes.setdefault(node["type"], stand_in(node["type"]))
    prompt = convert.editor_to_api(workflow, classes)
    by_type = {entry["class_type"]: (node_id, entry["inputs"]) for node_id, entry in prompt.items()}
    loader_id, _ = by_type["CheckpointLoaderSimple"]
    latent_id, latent_inputs = by_type["EmptyLatentImage"]
    _, sampler = by_type["KSampler"]
    assert latent_inputs == {"width": 64, "height": 64, "batch_size": 1}  # the shipped toy model: 32-px pictures
    assert {k: sampler[k] for k in ("seed", "steps", "cfg", "sampler_name", "scheduler", "denoise")} == {
        "seed": 42, "steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}
    assert sampler["model"] == [loader_id, 0] and sampler["latent_image"] == [latent_id, 0]
