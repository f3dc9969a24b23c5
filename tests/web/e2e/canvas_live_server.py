"""A real `diffloom serve` in a subprocess on a free port: used by the e2e tests and bench/canvas.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(base_dir: Path, *flags: str) -> tuple[subprocess.Popen, str]:
    """Starts `python -m diffloom serve` and waits until /api/object_info answers."""
    port = _free_port()
    log = open(base_dir / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "diffloom", "serve", "--port", str(port), "--base-directory",
                             str(base_dir), "--disable-auto-launch", *flags], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"diffloom serve exited with {proc.returncode}:\n{(base_dir / 'server.log').read_text()}")
        try:
            urllib.request.urlopen(f"{url}/api/object_info", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"diffloom serve did not answer within 60 s:\n{(base_dir / 'server.log').read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


# A first visit opens the txt2img template (docs/canvas.md); the tests start from one empty tab instead, as a
# returning user with an empty tab would. Only when nothing is saved, so tests reloading the page see their tabs.
EMPTY_TAB_SCRIPT = """
if (!localStorage.getItem("diffloom.tabs")) localStorage.setItem("diffloom.tabs", JSON.stringify({ active: 0,
  tabs: [{ name: "Unsaved Workflow", workflow: { last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [],
                                                config: {}, extra: {}, version: 0.4 } }] }));
"""
