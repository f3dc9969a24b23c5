"""Loading packs: what gets registered, and how failures and clashes are contained and reported."""

import logging

from plugin_sources import node_class

from nodes.plugins import format_import_times


def test_a_pack_registers_its_nodes_display_names_and_web_directory(load, write_pack, registry):
    write_pack("good", {
        "__init__.py": node_class("GoodNode", "7") + """
NODE_CLASS_MAPPINGS = {"GoodNode": GoodNode}
NODE_DISPLAY_NAME_MAPPINGS = {"GoodNode": "Good node", "CoreNode": "Hijacked core name"}
WEB_DIRECTORY = "./js"
""",
        "js/widget.js": "export {};\n",
    })
    report = load().reports["good"]
    assert report.status == "loaded" and report.nodes == ["GoodNode"] and report.error is None
    assert registry.classes["GoodNode"]().run() == (7,)
    assert registry.display_names["GoodNode"] == "Good node"
    assert registry.display_names["CoreNode"] == "Core Node", "a pack renames only its own nodes"
    assert registry.web_directories["good"] == report.web_directory == (report.path / "js").resolve()
    assert registry.object_info("GoodNode")["GoodNode"]["python_module"] == "custom_nodes.good"


def test_a_pack_raising_at_import_is_reported_and_the_others_still_load(load, write_pack, registry, caplog):
    write_pack("broken", {"__init__.py": "from .helpers import thing\n",
                          "helpers.py": "x = 1\nraise ValueError('no config found')\n"})
    write_pack("fine.py", node_class("FineNode") + "NODE_CLASS_MAPPINGS = {'FineNode': FineNode}\n")
    with caplog.at_level(logging.ERROR, logger="diffloom.plugins"):
        manager = load()
    broken = manager.reports["broken"]
    assert broken.status == "failed"
    assert broken.error == "ValueError: no config found"
    assert broken.error_location == f"{broken.path / 'helpers.py'}:2"
    assert "helpers.py" in broken.traceback and "manager.py" not in broken.traceback
    assert f"Cannot import {broken.path} module for custom nodes" in caplog.text
    assert manager.reports["fine"].status == "loaded" and "FineNode" in registry.classes


def test_sys_exit_syntax_errors_and_missing_modules_are_contained(load, write_pack, registry):
    write_pack("quits.py", "import sys\nsys.exit(3)\n")
    write_pack("typo.py", "def broken(:\n")
    write_pack("needs_dep", {"__init__.py": "import definitely_not_installed_xyz\n",
                             "requirements.txt": "definitely_not_installed_xyz\n"})
    write_pack("ok.py", node_class("StillHere") + "NODE_CLASS_MAPPINGS = {'StillHere': StillHere}\n")
    manager = load()
    assert manager.reports["quits"].status == "failed" and "SystemExit" in manager.reports["quits"].error
    assert manager.reports["typo"].error.startswith("SyntaxError")
    assert manager.reports["typo"].error_location.endswith("typo.py:1")
    assert "definitely_not_installed_xyz" in manager.reports["needs_dep"].error
    assert "requirements.txt" in manager.reports["needs_dep"].error
    assert "StillHere" in registry.classes


def test_custom_packs_cannot_replace_core_nodes(load, write_pack, registry):
    write_pack("clash.py", node_class("CoreNode", "99") + node_class("Other") +
               "NODE_CLASS_MAPPINGS = {'CoreNode': CoreNode, 'Other': Other}\n")
    report = load().reports["clash"]
    assert report.status == "loaded" and report.nodes == ["Other"]
    assert report.warnings == ["CoreNode: a built-in node has this name; custom packs cannot replace core nodes"]
    assert registry.classes["CoreNode"]().run() == (1,)


def test_a_later_pack_replaces_an_earlier_pack_node_and_both_reports_say_so(load, write_pack, custom_nodes,
                                                                               registry):
    first, second = custom_nodes / "first", custom_nodes / "second"
    first.mkdir(), second.mkdir()
    write_pack("a.py", node_class("Shared", "1") + "NODE_CLASS_MAPPINGS = {'Shared': Shared}\n", root=first)
    write_pack("b.py", node_class("Shared", "2") + "NODE_CLASS_MAPPINGS = {'Shared': Shared}\n", root=second)
    manager = registry.with_plugins([first, second]).plugins
    assert registry.classes["Shared"]().run() == (2,)
    assert manager.reports["a"].nodes == [] and "replaced by" in manager.reports["a"].warnings[0]
    assert manager.reports["b"].nodes == ["Shared"] and "from pack 'a'" in manager.reports["b"].warnings[0]


def test_bad_mapping_entries_are_refused_one_by_one(load, write_pack, registry):
    write_pack("odd.py", node_class("Good") + """
class NoFunction:
    @classmethod
    def INPUT_TYPES(cls):
        return {}
    RETURN_TYPES = ()
    FUNCTION = "missing"

NODE_CLASS_MAPPINGS = {"Good": Good, "NotAClass": 3, "NoFunction": NoFunction, 5: Good}
""")
    report = load().reports["odd"]
    assert report.nodes == ["Good"]
    assert len(report.warnings) == 3
    assert any("NotAClass: maps to 3, not a class" in w for w in report.warnings)
    assert any("'missing'" in w for w in report.warnings)


def test_mappings_that_are_not_a_dict_fail_the_pack(load, write_pack):
    write_pack("listy.py", "NODE_CLASS_MAPPINGS = [1, 2]\n")
    report = load().reports["listy"]
    assert report.status == "failed" and "must be a dict" in report.error and "listy.py" in report.error


def test_modules_without_mappings_are_skipped_unless_they_only_bring_javascript(load, write_pack, registry):
    write_pack("library.py", "HELPER = 1\n")
    write_pack("js_only", {"__init__.py": "WEB_DIRECTORY = 'web'\n", "web/a.js": ""})
    write_pack("v3.py", "async def comfy_entrypoint():\n    pass\n")
    write_pack("no_init", {"readme.md": "not a package"})
    manager = load()
    assert manager.reports["library"].status == "skipped"
    assert manager.reports["js_only"].status == "loaded" and "js_only" in registry.web_directories
    assert manager.reports["v3"].status == "failed"
    assert "comfy_entrypoint() must return a ComfyExtension, got NoneType" in manager.reports["v3"].error
    assert "no __init__.py" in manager.reports["no_init"].error


def test_a_web_directory_outside_the_pack_is_not_served(load, write_pack, registry):
    write_pack("sneaky", {"__init__.py": "WEB_DIRECTORY = '../../'\nNODE_CLASS_MAPPINGS = {}\n"})
    report = load().reports["sneaky"]
    assert "sneaky" not in registry.web_directories and "outside the pack" in report.warnings[0]


def test_disable_all_custom_nodes_loads_only_the_whitelist(load, write_pack, registry):
    write_pack("one.py", node_class("One") + "NODE_CLASS_MAPPINGS = {'One': One}\n")
    write_pack("two.py", node_class("Two") + "NODE_CLASS_MAPPINGS = {'Two': Two}\n")
    manager = load(disable_all=True, whitelist=["two"])
    assert manager.reports["one"].status == "disabled" and "One" not in registry.classes
    assert manager.reports["two"].status == "loaded" and "Two" in registry.classes


def test_the_import_time_report_lists_packs_fastest_first_and_marks_failures(load, write_pack, caplog):
    write_pack("slow.py", "import time\ntime.sleep(0.3)\nNODE_CLASS_MAPPINGS = {}\n")
    write_pack("fails.py", "raise ImportError('x')\n")
    with caplog.at_level(logging.INFO, logger="diffloom.plugins"):
        manager = load()
    text = format_import_times(list(manager.reports.values()))
    lines = text.splitlines()
    assert lines[0] == "Import times for custom nodes:"
    fails, slow = manager.reports["fails"], manager.reports["slow"]
    assert lines[1] == f"{fails.seconds:6.1f} seconds (IMPORT FAILED): {fails.path}"
    assert lines[2] == f"{slow.seconds:6.1f} seconds: {slow.path}" and slow.seconds >= 0.3
    assert text in caplog.text


def test_the_report_is_json_ready(load, write_pack):
    write_pack("j.py", "raise KeyError('k')\n")
    data = load().reports["j"].to_json()
    assert data["status"] == "failed" and data["path"].endswith("j.py") and isinstance(data["seconds"], float)
    assert set(data) >= {"name", "path", "status", "seconds", "error", "traceback", "nodes", "warnings"}


def test_prestartup_scripts_run_before_loading_and_failures_are_contained(custom_nodes, write_pack, caplog):
    from nodes.plugins import run_prestartup_scripts

    marker = custom_nodes.parent / "prestarted.txt"
    write_pack("early", {"__init__.py": "", "prestartup_script.py": f"open({str(marker)!r}, 'w').write('yes')\n"})
    write_pack("crashy", {"__init__.py": "", "prestartup_script.py": "raise OSError('disk on fire')\n"})
    write_pack("off.disabled", {"__init__.py": "", "prestartup_script.py": "raise SystemExit(1)\n"})
    write_pack("single.py", "")
    with caplog.at_level(logging.INFO, logger="diffloom.plugins"):
        timings = run_prestartup_scripts([custom_nodes])
    assert marker.read_text() == "yes"
    assert sorted((path.name, failed) for _, failed, path in timings) == [("crashy", True), ("early", False)]
    assert "Prestartup times for custom nodes:" in caplog.text and "(PRESTARTUP FAILED)" in caplog.text
    assert "disk on fire" in caplog.text
    assert run_prestartup_scripts([custom_nodes], disable_all=True) == []


def test_a_node_whose_declaration_cannot_be_shown_is_refused_and_never_breaks_object_info(load, write_pack,
                                                                                         registry):
    write_pack("shaky.py", node_class("Fine") + """
class RaisesInInputTypes:
    RETURN_TYPES = ()
    FUNCTION = "run"
    calls = 0

    @classmethod
    def INPUT_TYPES(cls):
        cls.calls += 1
        if cls.calls > 1:
            raise OSError("model folder vanished")
        return {"required": {}}

    def run(self):
        return ()

class NotJson(RaisesInInputTypes):
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT", {"default": object()})}}

NODE_CLASS_MAPPINGS = {"Fine": Fine, "NotJson": NotJson, "Later": RaisesInInputTypes}
""")
    report = load().reports["shaky"]
    assert report.nodes == ["Fine", "Later"]
    assert any(w.startswith("NotJson: its /object_info entry cannot be built (TypeError") for w in report.warnings)
    info = registry.object_info()  # Later raises now: it is skipped, everything else is still listed
    assert "Fine" in info and "CoreNode" in info and "Later" not in info


def test_a_pyproject_web_entry_serves_under_the_project_name(load, write_pack, registry):
    write_pack("packaged", {"__init__.py": "NODE_CLASS_MAPPINGS = {}\n", "frontend/x.js": "",
                            "pyproject.toml": '[project]\nname = "comfyui-packaged"\n[tool.comfy]\nweb = "frontend"\n'})
    manager = load()
    assert registry.web_directories["comfyui-packaged"] == (manager.reports["packaged"].path / "frontend").resolve()
    manager.reload("packaged")
    assert list(registry.web_directories) == ["comfyui-packaged"]


def test_the_real_built_in_catalogue_is_protected(custom_nodes, write_pack):
    from nodes.registry import NodeRegistry

    registry = NodeRegistry.builtin()
    core_name = "SaveImage" if "SaveImage" in registry.classes else next(iter(registry.classes))
    core_class = registry.classes[core_name]
    write_pack("impostor.py", node_class(core_name) + f"NODE_CLASS_MAPPINGS = {{'{core_name}': {core_name}}}\n")
    report = registry.with_plugins([custom_nodes]).plugins.reports["impostor"]
    assert report.nodes == [] and report.warnings[0].startswith(f"{core_name}: a built-in node has this name")
    assert registry.classes[core_name] is core_class
