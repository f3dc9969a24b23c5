"""`diffloom run` (a workflow headless, with a progress bar per node) and `diffloom convert` (editor -> API)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from executor.convert import editor_to_api
from executor.formats import WorkflowFormatError, detect_format, load_workflow
from executor.validate import describe, validate_prompt


class UsageError(ValueError):
    """Bad command-line input (a --set that names no node, a file in no known format)."""


def _registry(registry: Any = None) -> Any:
    """The built-in nodes plus the custom node packs of the `custom_nodes` folders."""
    if registry is not None:
        return registry
    from nodes.registry import NodeRegistry

    registry = NodeRegistry.builtin()
    try:
        return registry.with_plugins()
    except Exception as error:  # noqa: BLE001 - a broken plugin setup must not stop built-in workflows
        print(f"warning: custom nodes not loaded ({type(error).__name__}: {error})", file=sys.stderr)
        return registry


def to_prompt(path: str, registry: Any) -> dict:
    """The API prompt of a workflow file in either format (a POST /prompt body is accepted too)."""
    return _read(path, registry)[0]


def _read(path: str, registry: Any) -> tuple[dict, dict]:
    """(API prompt, extra_pnginfo): an editor file is also embedded in saved PNGs, as the canvas does."""
    data = load_workflow(path)
    kind = detect_format(data)
    if kind == "editor":
        return _editor_prompt(data, registry), {"workflow": data}
    if kind == "api-wrapped":
        return data["prompt"], dict((data.get("extra_data") or {}).get("extra_pnginfo") or {})
    return data, {}


def _editor_prompt(data: dict, registry: Any) -> dict:
    prompt = editor_to_api(data, registry.classes, registry.display_names)
    for node_id, node in prompt.items():
        if node["class_type"] not in registry.classes:
            print(f"warning: node {node_id} has unknown class {node['class_type']!r}: its widget values could "
                  "not be mapped to inputs", file=sys.stderr)
    return prompt


def _parse_value(text: str) -> Any:
    """JSON if it parses (numbers, true/false, lists), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(prompt: dict, overrides: list[str]) -> None:
    """Apply `NODE_ID.INPUT=VALUE` settings; the node must exist, the input need not (it may be optional)."""
    for override in overrides:
        target, separator, value = override.partition("=")
        node_id, dot, input_name = target.rpartition(".")
        if not separator or not dot or not node_id or not input_name:
            raise UsageError(f"--set {override!r}: expected NODE_ID.INPUT=VALUE")
        if node_id not in prompt:
            raise UsageError(f"--set {override!r}: the workflow has no node {node_id!r} "
                             f"(its nodes: {', '.join(sorted(prompt, key=str))})")
        prompt[node_id].setdefault("inputs", {})[input_name] = _parse_value(value)


def configure_runtime(cpu: bool = False) -> None:
    """The runtime's one configuration for `diffloom run`: folders under the working directory, the CPU if asked."""
    import runtime

    runtime.configure(paths=runtime.Paths.create(Path.cwd()), devices="cpu" if cpu else None)


def _with_output_folder(output_dir: str | None):
    """The configured folders with `output_dir` (created) as the output folder while the workflow runs."""
    import contextlib

    import runtime

    if not output_dir:
        return contextlib.nullcontext(None)
    current = runtime.current().paths
    paths = runtime.Paths.create(current.base_dir, input_dir=current.input_dir, output_dir=output_dir,
                                 temp_dir=current.temp_dir, user_dir=current.user_dir)
    paths.output_dir.mkdir(parents=True, exist_ok=True)
    return runtime.configured(paths=paths)


class _ProgressDisplay:
    """One tqdm bar per running node on a terminal; silent otherwise."""

    def __init__(self, prompt: dict, stream: TextIO):
        self.prompt = prompt
        self.stream = stream
        self.enabled = stream.isatty()
        self.bar = None

    def __call__(self, event: str, data: dict) -> None:
        if not self.enabled:
            return
        if event == "executing":
            self.close()
            from tqdm import tqdm

            node = data["node"]
            class_type = (self.prompt.get(data.get("display_node") or node) or {}).get("class_type", "")
            self.bar = tqdm(total=1, desc=f"#{node} {class_type}", file=self.stream, leave=True)
        elif event == "progress" and self.bar is not None:
            self.bar.total = data["max"]
            self.bar.n = data["value"]
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.n = self.bar.total or self.bar.n
            self.bar.close()
            self.bar = None


def _output_files(outputs: dict, output_dir: Path | None) -> list[str]:
    """The files output nodes reported (`images`, `audio`, ... entries with a filename)."""
    from runtime.settings import current

    found = []
    for entries in outputs.values():
        for items in entries.values():
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and "filename" in item:
                    try:
                        root = current().paths.directory_for(item.get("type", "output"))
                    except KeyError:
                        root = output_dir or Path.cwd()
                    found.append(str(Path(root) / item.get("subfolder", "") / item["filename"]))
    return found


def run(workflow: str, output_dir: str | None = None, overrides: list[str] | None = None, registry: Any = None,
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run a workflow headless on the configured runtime (`output_dir` replaces its output folder for this run);
    0 on success, 1 on an invalid workflow or a node error, 130 when interrupted."""
    with _with_output_folder(output_dir) as settings:
        return _run(workflow, settings.paths.output_dir if settings else None, overrides, registry,
                    out or sys.stdout, err or sys.stderr)


def _run(workflow: str, resolved_output: Path | None, overrides: list[str] | None, registry: Any, out: TextIO,
         err: TextIO) -> int:
    from executor.engine import Executor

    try:
        registry = _registry(registry)
        prompt, pnginfo = _read(workflow, registry)
        apply_overrides(prompt, overrides or [])
    except (WorkflowFormatError, UsageError) as error:
        print(f"error: {error}", file=err)
        return 1
    checked = validate_prompt(prompt, registry.classes)
    if checked.node_errors or not checked.ok:
        print(f"{'invalid' if not checked.ok else 'partly invalid'} workflow {workflow}:", file=err)
        print(describe(checked), file=err)
        if not checked.ok:
            return 1
    display = _ProgressDisplay(prompt, err)
    executor = Executor(registry.classes, emit=display)
    try:
        result = executor.execute(prompt, str(uuid.uuid4()), extra_data={"extra_pnginfo": pnginfo},
                                  execute_outputs=checked.outputs)
    except KeyboardInterrupt:
        display.close()
        print("interrupted", file=err)
        return 130
    display.close()
    print(f"ran {len(result.ran)} node(s): {', '.join(result.ran) or '-'}", file=out)
    print(f"from cache {len(result.cached)} node(s): {', '.join(result.cached) or '-'}", file=out)
    stats = result.cache_stats
    print(f"cache holds {stats.get('entries', 0)} result(s): {stats.get('cpu_bytes', 0) / 2**20:.1f} MiB RAM, "
          f"{stats.get('gpu_bytes', 0) / 2**20:.1f} MiB GPU", file=out)
    for path in _output_files(result.outputs, resolved_output):
        print(f"output: {path}", file=out)
    if result.interrupted:
        print("interrupted", file=err)
        return 130
    if not result.success:
        error = result.error or {}
        print(f"error in node {error.get('node_id')} ({error.get('node_type')}): {error.get('exception_type')}: "
              f"{error.get('exception_message')}", file=err)
        if os.environ.get("DIFFLOOM_TRACEBACK"):
            print("".join(error.get("traceback", [])), file=err)
        return 1
    return 0


def convert(workflow: str, registry: Any = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the API prompt of a workflow (an API prompt is printed as it is)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        prompt = to_prompt(workflow, _registry(registry))
    except WorkflowFormatError as error:
        print(f"error: {error}", file=err)
        return 1
    print(json.dumps(prompt, indent=2, ensure_ascii=False), file=out)
    return 0
