"""A `diffloom serve` process killed with SIGKILL mid-queue keeps its queue, history and outputs after restart."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.web.server.conftest import free_port

# Copied into <base>/custom_nodes: pure Python nodes, one slow enough to be killed mid-run.
PACK = Path(__file__).with_name("node_pack") / "persist_pack.py"


class Server:
    def __init__(self, base: Path, port: int):
        self.base, self.port = base, port
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "diffloom", "serve", "--base-directory", str(base), "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/object_info/PersistSave")
                return
            except OSError:
                time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"server did not start:\n{self.process.stdout.read().decode()}")

    def request(self, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", data=data, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    get = request

    def queue(self, value: int, delay: float = 0.0) -> str:
        prompt = {"1": {"class_type": "PersistNumber", "inputs": {"value": value, "delay": delay}},
                  "2": {"class_type": "PersistSave", "inputs": {"value": ["1", 0]}}}
        return self.request("/prompt", {"prompt": prompt})["prompt_id"]

    def wait(self, condition, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("condition not reached in time")

    def stop(self, sig=signal.SIGTERM) -> None:
        self.process.send_signal(sig)
        self.process.wait(15)
        self.process.stdout.close()


@pytest.mark.slow
def test_sigkill_mid_queue_then_restart_loses_nothing(tmp_path):
    (tmp_path / "custom_nodes").mkdir()
    shutil.copy(PACK, tmp_path / "custom_nodes")
    port = free_port()
    server = Server(tmp_path, port)
    try:
        second = subprocess.run([sys.executable, "-m", "diffloom", "serve", "--base-directory", str(tmp_path),
                                 "--port", str(free_port())], capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "in use by another diffloom server" in second.stdout
        done = server.queue(1)
        server.wait(lambda: done in server.get("/history"))
        running = server.queue(2, delay=3.0)
        waiting = [server.queue(value) for value in (3, 4, 5)]
        server.wait(lambda: [i[1] for i in server.get("/queue")["queue_running"]] == [running])
    finally:
        server.stop(signal.SIGKILL)

    server = Server(tmp_path, port)
    try:
        history = server.get("/history")
        assert list(history) == [done] and history[done]["outputs"]["2"] == {"texts": ["persist_1.txt"]}
        queued = server.get("/queue")
        in_queue = [i[1] for i in queued["queue_running"]] + [i[1] for i in sorted(queued["queue_pending"])]
        assert in_queue == [running, *waiting]  # the killed prompt is first again, the rest in order
        server.wait(lambda: len(server.get("/history")) == 5)
        history = server.get("/history")
        assert list(history) == [done, running, *waiting]
        assert all(entry["status"]["status_str"] == "success" for entry in history.values())
        assert sorted(p.name for p in (tmp_path / "output").iterdir()) == [f"persist_{v}.txt" for v in range(1, 6)]
    finally:
        server.stop()
