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

DATA = __import__("pathlib").Path(__file__).parent / "data"


def _wait_serving(process) -> str:
    """What the server printed up to its "serving on" line (or its exit), within 30 s."""
    printed, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        printed.append(line)
        if "serving on" in line or not line:
            break
    return "".join(printed)


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
        printed = _wait_serving(process)
        match = re.search(r"\?token=([\w-]+)", printed)
        assert match, printed
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


@pytest.mark.slow
def test_tls_flags_serve_https_and_wss(tmp_path):
    import asyncio
    import ssl

    import aiohttp

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "diffloom", "serve", "--port", str(port),
                                "--base-directory", str(tmp_path), "--tls-keyfile", str(DATA / "test_tls_key.pem"),
                                "--tls-certfile", str(DATA / "test_tls_cert.pem")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", "DIFFLOOM_AUTH_TOKEN": ""})
    try:
        printed = _wait_serving(process)
        assert f"serving on https://127.0.0.1:{port}/" in printed, printed
        trusted = ssl.create_default_context(cafile=str(DATA / "test_tls_cert.pem"))
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/api/queue", context=trusted, timeout=10) as resp:
            assert resp.status == 200
        with pytest.raises(urllib.error.URLError):  # the certificate is checked: an untrusting client refuses it
            urllib.request.urlopen(f"https://127.0.0.1:{port}/api/queue", timeout=10)

        async def first_message():
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"wss://127.0.0.1:{port}/ws?clientId=tls", ssl=trusted) as ws:
                    return await ws.receive_json(timeout=10)

        assert asyncio.run(first_message())["type"] == "status"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        process.stdout.close()


def test_tls_problems_are_one_clear_line(tmp_path):
    def serve(*flags):
        return subprocess.run([sys.executable, "-m", "diffloom", "serve", "--base-directory", str(tmp_path), *flags],
                              capture_output=True, text=True, timeout=60)

    alone = serve("--tls-keyfile", str(DATA / "test_tls_key.pem"))
    assert alone.returncode != 0 and "--tls-keyfile and --tls-certfile go together" in alone.stdout + alone.stderr
    wrong = serve("--port", str(free_port()), "--tls-keyfile", str(tmp_path / "missing.pem"),
                  "--tls-certfile", str(DATA / "test_tls_cert.pem"))
    assert wrong.returncode == 1 and "missing.pem" in wrong.stdout, wrong.stdout + wrong.stderr
    assert "Traceback" not in wrong.stdout + wrong.stderr
