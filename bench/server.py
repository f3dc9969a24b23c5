"""Server benchmark: start-up to first /object_info, POST /prompt → execution_start when fully cached, 100 prompts.

Runs `python -m diffloom serve` as a subprocess with the pure-Python test node pack, so no model is needed.
References measured in the same run: a bare interpreter start (`python -c pass`) and a GET /prompt round trip.
Targets (issue #4): start ≤ 1.5 s; cached POST → execution_start ≤ 20 ms; 100 prompts all accepted, run in order.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "tests" / "web" / "server" / "node_pack" / "persist_pack.py"


def prompt(value: int) -> dict:
    return {"1": {"class_type": "PersistNumber", "inputs": {"value": value, "delay": 0.0}},
            "2": {"class_type": "PersistSave", "inputs": {"value": ["1", 0]}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_server(base: Path) -> tuple[subprocess.Popen, str, float]:
    """Start a server; return it, its URL and the seconds until /object_info first answered."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "diffloom", "serve", "--base-directory", str(base),
                                "--port", str(port), "--dont-print-server"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/object_info") as resp:
                    if resp.status == 200:
                        await resp.read()
                        return process, url, time.perf_counter() - started
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.005)
            if process.poll() is not None:
                raise RuntimeError("the server exited during start-up")


def interpreter_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


async def until(ws, wanted: str, prompt_id: str | None = None) -> None:
    async for message in ws:
        if message.type != aiohttp.WSMsgType.TEXT:
            continue
        data = message.json()
        if data["type"] == wanted and (prompt_id is None or data["data"].get("prompt_id") == prompt_id):
            if wanted != "executing" or data["data"]["node"] is None:
                return


async def cached_latency(url: str, rounds: int = 30) -> tuple[list[float], list[float]]:
    """(POST → execution_start seconds for a cached prompt, GET /prompt round trips) over `rounds`."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{url}/ws?clientId=bench")
        body = {"prompt": prompt(7), "client_id": "bench"}
        async with session.post(f"{url}/prompt", json=body) as resp:  # fill the cache
            first = (await resp.json())["prompt_id"]
        await until(ws, "executing", first)
        latencies, round_trips = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            async with session.get(f"{url}/prompt") as resp:
                await resp.read()
            round_trips.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with session.post(f"{url}/prompt", json=body) as resp:
                prompt_id = (await resp.json())["prompt_id"]
            await until(ws, "execution_start", prompt_id)
            latencies.append(time.perf_counter() - started)
            await until(ws, "executing", prompt_id)
        await ws.close()
    return latencies, round_trips


async def hundred_at_once(url: str) -> tuple[float, float, bool]:
    """(seconds until all 100 were accepted, seconds until all ran, whether they ran in queue order)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/history", json={"clear": True}):
            pass
        started = time.perf_counter()

        async def post(value: int):
            async with session.post(f"{url}/prompt", json={"prompt": prompt(1000 + value)}) as resp:
                return resp.status, await resp.json()

        replies = await asyncio.gather(*(post(v) for v in range(100)))
        accepted = time.perf_counter() - started
        if any(status != 200 for status, _ in replies):
            raise RuntimeError("a prompt was refused")
        numbers = {body["prompt_id"]: body["number"] for _, body in replies}
        while True:
            async with session.get(f"{url}/prompt") as resp:
                if (await resp.json())["exec_info"]["queue_remaining"] == 0:
                    break
            await asyncio.sleep(0.01)
        ran = time.perf_counter() - started
        async with session.get(f"{url}/history") as resp:
            history = await resp.json()
    in_order = list(history) == sorted(numbers, key=numbers.get)
    return accepted, ran, in_order and all(e["status"]["status_str"] == "success" for e in history.values())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="diffloom-bench-"))
    (base / "custom_nodes").mkdir()
    shutil.copy(PACK, base / "custom_nodes")
    try:
        reference = min(interpreter_start() for _ in range(3))
        starts = []
        for _ in range(3):
            process, url, seconds = await start_server(base)
            starts.append(seconds)
            process.terminate()
            process.wait(10)
        start = statistics.median(starts)
        print(f"start → first /object_info: median {start:.2f} s of {len(starts)} "
              f"(bare interpreter {reference:.2f} s, ratio {start / reference:.1f}×; target ≤ 1.5 s)")

        process, url, _ = await start_server(base)
        try:
            latencies, round_trips = await cached_latency(url)
            p50, p95 = statistics.median(latencies), sorted(latencies)[int(0.95 * len(latencies)) - 1]
            rtt = statistics.median(round_trips)
            print(f"cached POST /prompt → execution_start: median {ms(p50)}, p95 {ms(p95)} "
                  f"(GET /prompt round trip {ms(rtt)}, ratio {p50 / rtt:.1f}×; target ≤ 20 ms)")
            accepted, ran, ok = await hundred_at_once(url)
            print(f"100 prompts at once: all accepted in {ms(accepted)}, all ran in {ms(ran)} "
                  f"({ms(ran / 100)} per prompt), in order and successful: {ok}")
        finally:
            process.terminate()
            process.wait(10)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
