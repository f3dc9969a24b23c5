"""The ComfyUI modules custom nodes import: what they provide, and the errors for what they do not."""

import importlib
import threading

import pytest

from executor import progress


@pytest.fixture(autouse=True)
def _compat(compat):
    pass


def test_compat_modules_are_served_only_under_their_own_names():
    import folder_paths
    import server
    from nodes.plugins.compat_import import COMPAT_DIR

    assert folder_paths.__file__ == str(COMPAT_DIR / "folder_paths.py")
    assert server.__file__ == str(COMPAT_DIR / "server.py")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("comfy_compat")


def test_unsupported_modules_and_symbols_fail_with_an_import_error_naming_them():
    with pytest.raises(ModuleNotFoundError, match=r"'comfy\.sd'.*docs/plugins\.md"):
        importlib.import_module("comfy.sd")
    with pytest.raises(ModuleNotFoundError, match=r"'latent_preview': diffloom's ComfyUI compatibility layer"):
        importlib.import_module("latent_preview")
    with pytest.raises(ImportError, match="cannot import name 'load_checkpoint_guess_config'"):
        exec("from comfy.utils import load_checkpoint_guess_config", {})
    import comfy.model_management as mm
    with pytest.raises(AttributeError, match=r"comfy\.model_management\.unload_all_models is not supported"):
        mm.unload_all_models()


def test_folder_paths_reads_and_extends_the_configured_paths(base_dir):
    import folder_paths

    loras = base_dir / "models" / "loras"
    (loras / "style").mkdir(parents=True)
    (loras / "style" / "ink.safetensors").write_bytes(b"x")
    assert folder_paths.models_dir == str(base_dir / "models")
    assert folder_paths.get_filename_list("loras") == ["style/ink.safetensors"]
    assert folder_paths.get_full_path("loras", "style/ink.safetensors") == str(loras / "style" / "ink.safetensors")
    assert folder_paths.get_full_path("loras", "missing.pt") is None
    with pytest.raises(FileNotFoundError, match="loras"):
        folder_paths.get_full_path_or_raise("loras", "missing.pt")
    assert folder_paths.get_input_directory() == str(base_dir / "input")
    assert folder_paths.get_output_directory() == str(base_dir / "output")
    assert folder_paths.get_temp_directory() == str(base_dir / "temp")

    extra = base_dir / "elsewhere"
    extra.mkdir()
    (extra / "a.gguf").write_bytes(b"x")
    folder_paths.folder_names_and_paths["llm"] = ([str(extra)], {".gguf"})
    assert folder_paths.get_filename_list("llm") == ["a.gguf"]
    folder_paths.folder_names_and_paths["llm"][1].add(".bin")
    (extra / "b.bin").write_bytes(b"x")
    assert folder_paths.get_filename_list("llm") == ["a.gguf", "b.bin"]
    folder_paths.add_model_folder_path("loras", str(extra), is_default=True)
    assert folder_paths.folder_names_and_paths["loras"][0][0] == str(extra)
    assert "llm" in folder_paths.folder_names_and_paths


def test_annotated_paths_and_save_paths(base_dir):
    import folder_paths

    (base_dir / "output").mkdir()
    (base_dir / "output" / "x.png").write_bytes(b"x")
    assert folder_paths.get_annotated_filepath("x.png [output]") == str(base_dir / "output" / "x.png")
    assert folder_paths.get_annotated_filepath("y.png") == str(base_dir / "input" / "y.png")
    assert folder_paths.exists_annotated_filepath("x.png [output]")
    assert not folder_paths.exists_annotated_filepath("x.png")
    assert not folder_paths.exists_annotated_filepath("../../etc/passwd [output]")
    with pytest.raises(ValueError, match="outside"):
        folder_paths.get_annotated_filepath("../secret.txt", default_dir=str(base_dir / "output"))

    out = base_dir / "output"
    (out / "run").mkdir()
    (out / "run" / "pic_00007_.png").write_bytes(b"x")
    folder, filename, counter, subfolder, prefix = folder_paths.get_save_image_path("run/pic", str(out), 64, 32)
    assert (folder, filename, counter, subfolder, prefix) == (str(out / "run"), "pic", 8, "run", "run/pic")
    assert folder_paths.get_save_image_path("%width%x%height%", str(out), 64, 32)[1] == "64x32"
    with pytest.raises(ValueError, match="outside the output folder"):
        folder_paths.get_save_image_path("../escape", str(out))


def _hooked(events: list) -> progress.ProgressHook:
    return progress.ProgressHook("p1", "5", "5", lambda event, data: events.append((event, data)))


def test_progress_bar_reports_to_the_running_node_and_stops_on_interrupt():
    from comfy.utils import ProgressBar
    from comfy.model_management import InterruptProcessingException, throw_exception_if_processing_interrupted

    events = []
    hook = _hooked(events)
    with progress.installed(hook):
        bar = ProgressBar(4)
        bar.update(1)
        bar.update_absolute(3, preview=("JPEG", "picture", 512))
        bar.update_absolute(9)  # clamped to the total, as ComfyUI does
        assert [(e, d.get("value"), d.get("max")) for e, d in events] == [
            ("progress", 1, 4), ("progress", 3, 4), ("preview_image", None, None), ("progress", 4, 4)]
        assert events[2][1]["image"] == "picture" and events[0][1]["node"] == "5"
        hook.interrupt_flag.set()
        with pytest.raises(InterruptProcessingException):
            bar.update(1)
        hook.interrupt_flag.set()
        with pytest.raises(progress.InterruptProcessing):
            throw_exception_if_processing_interrupted()
    ProgressBar(2).update(1)  # outside a run: nothing to report to, no error


def test_load_torch_file_reads_safetensors_and_weights_only_pickles(tmp_path):
    import torch
    from safetensors.torch import save_file
    from comfy.utils import load_torch_file

    weights = {"w": torch.arange(6.0).reshape(2, 3)}
    save_file(weights, tmp_path / "m.safetensors", metadata={"kind": "test"})
    state, metadata = load_torch_file(str(tmp_path / "m.safetensors"), return_metadata=True)
    assert torch.equal(state["w"], weights["w"]) and metadata == {"kind": "test"}

    torch.save({"state_dict": weights}, tmp_path / "m.ckpt")
    assert torch.equal(load_torch_file(str(tmp_path / "m.ckpt"))["w"], weights["w"])

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))
    torch.save({"evil": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global"):
        load_torch_file(str(tmp_path / "evil.pt"))


def test_common_upscale_and_devices():
    import torch
    import comfy.model_management as mm
    from comfy.utils import common_upscale

    samples = torch.rand(1, 3, 8, 16)
    assert common_upscale(samples, 4, 4, "bilinear", "center").shape == (1, 3, 4, 4)
    assert common_upscale(samples, 32, 16, "nearest-exact", "disabled").shape == (1, 3, 16, 32)
    assert mm.get_torch_device().type in ("cpu", "cuda", "mps")
    assert mm.intermediate_device() == torch.device("cpu")
    mm.soft_empty_cache()


def test_io_types_compare_like_comfyui():
    import json
    from comfy.comfy_types import IO, ComfyNodeABC, InputTypeDict

    assert IO.IMAGE == "IMAGE" and json.dumps([IO.IMAGE]) == '["IMAGE"]'
    assert not (IO.ANY != "MODEL") and not ("MODEL" != IO.ANY)
    assert not (IO.NUMBER != "INT") and IO.NUMBER != "STRING"
    assert IO.LATENT != "IMAGE" and {IO.MASK: 1}["MASK"] == 1

    class Node(ComfyNodeABC):
        @classmethod
        def INPUT_TYPES(cls) -> InputTypeDict:
            return {"required": {"x": (IO.INT, {})}}
    assert Node.INPUT_TYPES()["required"]["x"][0] == "INT"
    with pytest.raises(TypeError):
        type("Incomplete", (ComfyNodeABC,), {})()


def test_graph_utils_and_blocker_are_the_executor_ones():
    from comfy_execution.graph import ExecutionBlocker
    from comfy_execution.graph_utils import GraphBuilder, is_link
    from executor import blocker, graph_builder

    assert ExecutionBlocker is blocker.ExecutionBlocker and GraphBuilder is graph_builder.GraphBuilder
    graph = GraphBuilder(prefix="7.0.0.")
    node = graph.node("Add", a=1)
    assert is_link(node.out(0)) and graph.finalize() == {"7.0.0.1": {"class_type": "Add", "inputs": {"a": 1}}}


def test_prompt_server_forwards_events_once_bound(fresh_server):
    from server import PromptServer
    from nodes.plugins import bind_server

    PromptServer.instance.send_sync("dropped", {})  # unbound: silently dropped
    sent = []
    bind_server(lambda event, data, sid: sent.append((event, data, sid)), client_id_getter=lambda: "client-1")
    assert PromptServer.instance is fresh_server and PromptServer.instance.client_id == "client-1"
    done = threading.Thread(target=PromptServer.instance.send_sync, args=("my.event", {"n": 1}, "sid-9"))
    done.start(), done.join()
    PromptServer.instance.send_progress_text("half way", "3")
    assert sent == [("my.event", {"n": 1}, "sid-9"), ("progress_text", {"text": "half way", "node_id": "3"}, None)]


def test_the_nodes_module_offers_built_in_classes_by_name():
    import nodes

    name, cls = next(iter(nodes.NODE_CLASS_MAPPINGS.items()))
    assert getattr(nodes, name) is cls and isinstance(nodes.MAX_RESOLUTION, int)
    with pytest.raises(ImportError, match="NoSuchNode"):
        exec("from nodes import NoSuchNode", {})


def test_compat_modules_and_the_example_pack_load_without_torch():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import sys\n"
            "from nodes.registry import NodeRegistry\n"
            "registry = NodeRegistry().with_plugins([sys.argv[1]])\n"
            "import folder_paths, comfy.utils, comfy.model_management, comfy.comfy_types, server\n"
            "import comfy_execution.graph, comfy_execution.graph_utils\n"
            "assert registry.plugins.reports['image_adjust'].status == 'loaded'\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code, str(root / "custom_nodes")], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "False", "start-up must stay fast: torch is imported only when a node runs"
