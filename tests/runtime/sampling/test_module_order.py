"""A sampling run reads top to bottom: every `runtime.sampling` module imports only the modules after it in ORDER
(the order of docs/sampling.md), imports inside functions included — so there is no cycle and no import back up."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "runtime" / "sampling"
# KSampler by name, the GUIDER, the run, the SAMPLER, the solvers, then what they draw on
ORDER = ["ksampler", "guidance", "sample", "samplers", "cfg_pp", "unipc", "solvers", "noise", "schedules",
         "model_sampling", "preview", "names"]


def sampling_imports(path: Path) -> set[str]:
    """The `runtime.sampling` modules a file imports anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "runtime.sampling":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("runtime.sampling."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[2] for alias in node.names
                         if alias.name.startswith("runtime.sampling."))
    return found


def test_every_module_has_its_place_in_the_order():
    assert sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__") == sorted(ORDER)


def test_each_module_imports_only_modules_after_it():
    upward = [f"runtime.sampling.{module} imports runtime.sampling.{other}" for i, module in enumerate(ORDER)
              for other in sorted(sampling_imports(PACKAGE / f"{module}.py")) if other not in ORDER[i + 1:]]
    assert upward == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from runtime.sampling.ksampler import ksampler_from_seed\n"
                      "    from runtime.sampling import noise\n")
    assert sampling_imports(module) == {"ksampler", "noise"}
