"""Live reload of one pack after its files change on disk."""

import pytest
from plugin_sources import node_class

from nodes.plugins import PackNotFound


def _package(value: str, extra: str = "") -> dict:
    return {"__init__.py": "from .impl import NODE_CLASS_MAPPINGS\n" + extra,
            "impl.py": node_class("Editable", value) + "NODE_CLASS_MAPPINGS = {'Editable': Editable}\n"}


def test_reload_picks_up_edits_to_submodules(load, write_pack, registry):
    write_pack("live", _package("1"))
    manager = load()
    old_class = registry.classes["Editable"]
    write_pack("live", _package("2"))  # same second, same size: stale bytecode must not be used
    report = manager.reload("live")
    assert report.status == "loaded" and report.nodes == ["Editable"]
    assert registry.classes["Editable"] is not old_class
    assert registry.classes["Editable"]().run() == (2,)


def test_reload_drops_nodes_the_pack_no_longer_declares_and_adds_new_ones(load, write_pack, registry):
    write_pack("shrink.py", node_class("Keep") + node_class("Drop") +
               "NODE_CLASS_MAPPINGS = {'Keep': Keep, 'Drop': Drop}\nNODE_DISPLAY_NAME_MAPPINGS = {'Drop': 'D'}\n")
    manager = load()
    write_pack("shrink.py", node_class("Keep") + node_class("Fresh") +
               "NODE_CLASS_MAPPINGS = {'Keep': Keep, 'Fresh': Fresh}\n")
    manager.reload("shrink")
    assert "Drop" not in registry.classes and "Drop" not in registry.display_names
    assert {"Keep", "Fresh"} <= set(registry.classes)


def test_a_reload_that_fails_reports_the_error_and_removes_the_pack_nodes(load, write_pack, registry):
    write_pack("fragile", _package("1"))
    manager = load()
    write_pack("fragile", {"impl.py": "def broken(:\n"})
    report = manager.reload("fragile")
    assert report.status == "failed" and report.error.startswith("SyntaxError")
    assert "Editable" not in registry.classes
    write_pack("fragile", _package("3"))
    assert manager.reload("fragile").status == "loaded"
    assert registry.classes["Editable"]().run() == (3,)


def test_reload_replaces_the_pack_routes(load, write_pack, fresh_server):
    route = "from server import PromptServer\n@PromptServer.instance.routes.get('/live/version')\n" \
            "async def version(request):\n    return {value}\n"
    write_pack("routed", _package("1", route.format(value=1)))
    manager = load()
    write_pack("routed", _package("1", route.format(value=2)))
    report = manager.reload("routed")
    routes = fresh_server.routes.of_pack("routed")
    assert report.routes == ["GET /live/version"] and len(routes) == 1
    assert fresh_server.routes.current("GET", "/live/version") is routes[0]


def test_a_pack_added_after_start_up_can_be_loaded_by_name(load, write_pack, registry):
    manager = load()
    write_pack("late.py", node_class("Late") + "NODE_CLASS_MAPPINGS = {'Late': Late}\n")
    assert manager.reload("late").status == "loaded" and "Late" in registry.classes


def test_reloading_an_unknown_pack_names_it(load):
    manager = load()
    with pytest.raises(PackNotFound, match="'ghost'"):
        manager.reload("ghost")


def test_a_pack_deleted_from_disk_is_unloaded(load, write_pack, registry):
    path = write_pack("temporary.py", node_class("Temp") + "NODE_CLASS_MAPPINGS = {'Temp': Temp}\n")
    manager = load()
    path.unlink()
    report = manager.reload("temporary")
    assert report.status == "failed" and "no longer" in report.error and "Temp" not in registry.classes
