"""Project-layout guards: what would otherwise break test collection or the torch-free promise."""

import collections
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_module_basenames_are_unique():
    # Test folders are not packages, so two test files with one basename make pytest stop at collection.
    names = collections.Counter(p.name for p in TESTS.rglob("test_*.py") if "packs" not in p.parts)
    assert [name for name, count in names.items() if count > 1] == []


def test_executor_and_node_declarations_import_without_torch():
    code = ("import sys, executor.engine, executor.validate, executor.convert, nodes, nodes.registry;"
            "nodes.registry.NodeRegistry.builtin().object_info();"
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_test_imports_a_conftest_module():
    # Every test folder's conftest.py is a module named `conftest`; which one an import finds depends on the
    # collection order, so shared names belong in a module with its own name.
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                 if any(line.startswith(("from conftest import", "import conftest")) for line in p.read_text().splitlines())]
    assert offenders == []
