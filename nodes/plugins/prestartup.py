"""Each pack's `prestartup_script.py`, run before any node is imported (spec §5.2), with a timing table."""

from __future__ import annotations

import logging
import runpy
import time
import traceback
from pathlib import Path

from nodes.plugins.discovery import discover
from nodes.plugins.report import format_times

log = logging.getLogger("diffloom.plugins")


def run_prestartup_scripts(roots: list[Path], *, disable_all: bool = False,
                           whitelist: tuple[str, ...] = ()) -> list[tuple[float, bool, Path]]:
    """Run the script of every enabled package pack that has one; a failing script is logged, never raised."""
    timings = []
    for source in discover(roots):
        script = source.path / "prestartup_script.py"
        if source.disabled or not source.is_package or not script.is_file() or \
                (disable_all and source.name not in whitelist):
            continue
        start, failed = time.perf_counter(), False
        try:
            runpy.run_path(str(script), run_name=f"{source.module_name}.prestartup_script")
        except BaseException as exc:  # noqa: BLE001 - one pack's script must not stop the server
            if isinstance(exc, KeyboardInterrupt):
                raise
            failed = True
            log.error("Failed to execute startup-script: %s\n%s", script, traceback.format_exc())
        timings.append((time.perf_counter() - start, failed, source.path))
    if timings:
        log.info("%s", format_times("Prestartup times for custom nodes:", timings, "PRESTARTUP FAILED"))
    return timings
