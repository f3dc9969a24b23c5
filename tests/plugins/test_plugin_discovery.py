"""Which entries of a custom_nodes root are packs, and the module names they are imported under (spec §5.2)."""

import sys

from nodes.plugins.discovery import discover

from plugin_sources import node_class


def test_packages_and_py_files_are_packs_other_entries_are_not(custom_nodes, write_pack):
    write_pack("pkg", {"__init__.py": ""})
    write_pack("single.py", "")
    write_pack("notes.txt", "hello")
    write_pack("old.disabled", {"__init__.py": ""})
    write_pack("gone.py.disabled", "")
    (custom_nodes / "__pycache__").mkdir()
    found = {s.name: s for s in discover([custom_nodes])}
    assert set(found) == {"pkg", "single", "old", "gone"}
    assert found["old"].disabled and found["gone"].disabled
    assert not found["pkg"].disabled and found["pkg"].is_package
    assert not found["single"].is_package


def test_missing_roots_are_ignored(tmp_path):
    assert discover([tmp_path / "nope"]) == []


def test_module_names_follow_the_path_so_relative_imports_work(load, write_pack, custom_nodes, registry):
    write_pack("my.pack", {
        "__init__.py": "from .impl import NODE_CLASS_MAPPINGS\n",
        "impl.py": "from .sub.deep import VALUE\n" + node_class("Rel", "VALUE") +
                   "NODE_CLASS_MAPPINGS = {'Rel': Rel}\n",
        "sub/__init__.py": "",
        "sub/deep.py": "VALUE = 41 + 1\n",
    })
    manager = load()
    assert manager.reports["my.pack"].status == "loaded"
    module_name = str(custom_nodes / "my.pack").replace(".", "_x_")
    assert module_name in sys.modules and module_name + ".sub.deep" in sys.modules
    assert registry.classes["Rel"]().run() == (42,)
    assert registry.classes["Rel"].RELATIVE_PYTHON_MODULE == "custom_nodes.my.pack"


def test_disabled_packs_are_listed_but_not_imported(load, write_pack):
    write_pack("off.disabled", {"__init__.py": "raise SystemError('must not run')\n"})
    manager = load()
    assert manager.reports["off"].status == "disabled"
    assert manager.reports["off"].error is None


def test_an_enabled_pack_wins_over_a_disabled_copy_of_the_same_name(load, write_pack, registry):
    write_pack("twin.py.disabled", "raise SystemError('must not run')\n")
    write_pack("twin.py", node_class("Twin") + "NODE_CLASS_MAPPINGS = {'Twin': Twin}\n")
    manager = load()
    assert manager.reports["twin"].status == "loaded" and "Twin" in registry.classes


def test_pack_names_must_be_unique_across_roots(registry, write_pack, custom_nodes):
    first, second = custom_nodes / "a", custom_nodes / "b"
    first.mkdir(), second.mkdir()
    write_pack("same.py", node_class("First") + "NODE_CLASS_MAPPINGS = {'First': First}\n", root=first)
    write_pack("same.py", node_class("Second") + "NODE_CLASS_MAPPINGS = {'Second': Second}\n", root=second)
    reports = registry.with_plugins([first, second]).plugins.reports
    assert reports["same"].status == "loaded" and "First" in registry.classes and "Second" not in registry.classes
    duplicate = reports[str(second / "same.py")]
    assert duplicate.status == "skipped" and "already found" in duplicate.error
