"""Fixtures for plugin tests: a temporary custom_nodes root, packs written from source text, a fresh registry."""

import textwrap
from pathlib import Path

import pytest

import runtime
from nodes.plugins import PluginManager, PluginServer, compat_import
from nodes.registry import NodeRegistry


class CoreNode:
    """Stands in for a built-in node, so clashes with core names can be tested without the real catalogue."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self):
        return (1,)


@pytest.fixture
def base_dir(tmp_path):
    """A configured base directory (models/, input/, output/, custom_nodes/), restored afterwards."""
    with runtime.configured(paths=runtime.Paths.create(tmp_path)):
        (tmp_path / "custom_nodes").mkdir()
        yield tmp_path


@pytest.fixture
def custom_nodes(base_dir) -> Path:
    return base_dir / "custom_nodes"


@pytest.fixture
def write_pack(custom_nodes):
    """write_pack("name", {"__init__.py": src, ...}) for a package, write_pack("name.py", src) for a single file."""
    def write(name: str, files, root: Path | None = None) -> Path:
        root = root or custom_nodes
        if isinstance(files, str):
            target = root / name
            target.write_text(textwrap.dedent(files))
            return target
        for relative, source in files.items():
            target = root / name / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(source))
        return root / name
    return write


@pytest.fixture(autouse=True)
def fresh_server():
    """Each test gets its own PromptServer.instance (routes, bindings)."""
    previous = PluginServer.instance
    PluginServer.instance = PluginServer()
    yield PluginServer.instance
    PluginServer.instance = previous


@pytest.fixture
def registry() -> NodeRegistry:
    return NodeRegistry(classes={"CoreNode": CoreNode}, display_names={"CoreNode": "Core Node"},
                        builtin_names=frozenset({"CoreNode"}))


@pytest.fixture
def load(registry, custom_nodes):
    """load() imports every pack of the temporary root into `registry` and returns its PluginManager."""
    def run(**kwargs) -> PluginManager:
        registry.with_plugins([custom_nodes], **kwargs)
        return registry.plugins
    return run


@pytest.fixture
def compat():
    compat_import.install()

