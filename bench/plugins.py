"""Custom node loading cost: diffloom's loader vs plain `importlib` on the same 100 generated packs, and one reload.

Prints times and the ratio to the plain import measured in the same run (the loader adds checks, registration,
reports and the /object_info dry run per node).
"""

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nodes.plugins import PluginServer  # noqa: E402
from nodes.registry import NodeRegistry  # noqa: E402

PACKS, NODES_PER_PACK = 100, 5

NODE = '''
class {name}:
    CATEGORY = "bench"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"a": ("INT", {{"default": 0, "min": 0, "max": 100}}), "b": ("FLOAT", {{}})}}}}

    def run(self, a, b):
        return (a,)
'''


def write_packs(root: Path, tag: str) -> list[Path]:
    files = []
    for p in range(PACKS):
        names = [f"Bench{tag}{p}_{n}" for n in range(NODES_PER_PACK)]
        source = "".join(NODE.format(name=n) for n in names)
        source += "NODE_CLASS_MAPPINGS = {" + ", ".join(f"'{n}': {n}" for n in names) + "}\n"
        path = root / f"pack_{tag}_{p}.py"
        path.write_text(source)
        files.append(path)
    return files


def plain_import(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        spec = importlib.util.spec_from_file_location(f"plain_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain_root, loader_root = Path(tmp) / "plain", Path(tmp) / "custom_nodes"
        plain_root.mkdir(), loader_root.mkdir()
        reference = plain_import(write_packs(plain_root, "P"))
        write_packs(loader_root, "L")
        PluginServer.instance = PluginServer()
        registry = NodeRegistry()
        start = time.perf_counter()
        registry.with_plugins([loader_root])
        loaded = time.perf_counter() - start
        assert len(registry.classes) == PACKS * NODES_PER_PACK
        start = time.perf_counter()
        report = registry.plugins.reload("pack_L_0")
        reload_ms = (time.perf_counter() - start) * 1000
        assert report.status == "loaded"
    print(f"plain importlib, {PACKS} packs x {NODES_PER_PACK} nodes: {reference * 1000:8.1f} ms")
    print(f"diffloom loader, same packs:                 {loaded * 1000:8.1f} ms  "
          f"(x{loaded / reference:.2f} of plain import, {loaded / PACKS * 1000:.2f} ms per pack)")
    print(f"reload of one pack:                          {reload_ms:8.1f} ms")


if __name__ == "__main__":
    main()
