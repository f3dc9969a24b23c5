"""`python -m diffloom serve` beyond loopback: a token is generated, printed and required; SIGTERM stops cleanly."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.web.server.conftest import free_port


def status_of(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_listening_beyond_loopback_prints_and_requires_a_token(tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "diffloom", "serve", "--listen", "0.0.0.0", "--port", str(port),
                                "--base-directory", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", "DIFFLOOM_AUTH_TOKEN": ""})
    try:
        printed, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            printed.append(line)
            if "serving on" in line or not line:
                break
        match = re.search(r"\?token=([\w-]+)", "".join(printed))
        assert match, "".join(printed)
        token = match.group(1)
        url = f"http://127.0.0.1:{port}/api/queue"
        assert status_of(url) == 401
        assert status_of(url, "wrong") == 401
        assert status_of(url, token) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        process.stdout.close()


def test_start_up_problems_are_one_clear_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "diffloom", "serve", "--base-directory", str(tmp_path),
                          "--extra-model-paths-config", str(tmp_path / "missing.yaml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "missing.yaml" in out.stdout and "Traceback" not in out.stdout + out.stderr
