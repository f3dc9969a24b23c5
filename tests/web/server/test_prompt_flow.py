"""Prompts through the real executor, watched like ComfyUI's example scripts do: POST /prompt, /ws, /history, /view."""

import asyncio
import io
import json
import struct

import aiohttp
import pytest
from PIL import Image

from tests.web.server.conftest import save_prompt


async def connect(server, client_id: str, flags: dict | None = None):
    ws = await server.ws_connect(f"/ws?clientId={client_id}")
    hello = await ws.receive_json()
    assert hello == {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}}
    if flags is not None:
        await ws.send_json({"type": "feature_flags", "data": flags})
        reply = await ws.receive_json()
        assert reply["type"] == "feature_flags" and reply["data"]["supports_preview_metadata"] is True
    return ws


async def queue(server, prompt: dict, **body) -> str:
    resp = await server.post("/prompt", json={"prompt": prompt, **body})
    data = await resp.json()
    assert resp.status == 200, data
    assert set(data) == {"prompt_id", "number", "node_errors"}
    return data["prompt_id"]


async def watch(ws, prompt_id: str, timeout: float = 20.0) -> tuple[list[dict], list[bytes]]:
    """Messages until `executing` with node null for this prompt (the example scripts' end condition)."""
    texts, frames = [], []
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive()
            if message.type == aiohttp.WSMsgType.BINARY:
                frames.append(message.data)
                continue
            assert message.type == aiohttp.WSMsgType.TEXT, message
            data = json.loads(message.data)
            texts.append(data)
            if data["type"] == "executing" and data["data"]["node"] is None \
                    and data["data"]["prompt_id"] == prompt_id:
                return texts, frames


def types(messages: list[dict], prompt_id: str | None = None) -> list[str]:
    return [m["type"] for m in messages if prompt_id is None or m["data"].get("prompt_id") in (prompt_id, None)]


async def test_scripted_client_like_comfyuis_example(server):
    ws = await connect(server, "script")
    prompt_id = await queue(server, save_prompt(42, prefix="ex"), client_id="script")
    messages, _ = await watch(ws, prompt_id)
    seen = types(messages)
    for event in ("execution_start", "execution_cached", "executing", "executed", "execution_success"):
        assert event in seen, seen
    assert seen.index("execution_start") < seen.index("execution_success") < len(seen) - 1
    executed = next(m["data"] for m in messages if m["type"] == "executed")
    assert executed["node"] == "3" and executed["output"]["images"][0]["filename"] == "ex_42.png"
    # history is stored before the final executing message, so it is there right away
    history = await (await server.get(f"/history/{prompt_id}")).json()
    entry = history[prompt_id]
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    assert [m[0] for m in entry["status"]["messages"]][0] == "execution_start"
    image = entry["outputs"]["3"]["images"][0]
    resp = await server.get("/view", params=image)
    assert resp.status == 200
    assert Image.open(io.BytesIO(await resp.read())).getpixel((0, 0)) == (42, 0, 0)
    assert entry["prompt"][1] == prompt_id and entry["prompt"][3]["client_id"] == "script"
    await ws.close()


async def test_second_identical_prompt_is_served_from_the_cache(server):
    ws = await connect(server, "c")
    first = await queue(server, save_prompt(5), client_id="c")
    await watch(ws, first)
    second = await queue(server, save_prompt(5), client_id="c")
    messages, _ = await watch(ws, second)
    cached = next(m["data"]["nodes"] for m in messages if m["type"] == "execution_cached")
    assert set(cached) >= {"1"}
    assert "executing" not in [m["type"] for m in messages if m["data"].get("node") is not None]


async def test_previews_arrive_as_binary_frames_resized(make_server):
    server = await make_server(preview_size=16, preview_method="auto")
    plain = await connect(server, "plain")
    rich = await connect(server, "rich", flags={"supports_preview_metadata": True})
    for ws, client in ((plain, "plain"), (rich, "rich")):
        prompt_id = await queue(server, save_prompt(client == "rich", slow_steps=2), client_id=client)
        _, frames = await watch(ws, prompt_id)
        assert len(frames) == 2
        kind = struct.unpack(">I", frames[0][:4])[0]
        if client == "plain":
            assert kind == 1 and struct.unpack(">I", frames[0][4:8])[0] == 1  # JPEG
            image = Image.open(io.BytesIO(frames[0][8:]))
        else:
            assert kind == 4
            (length,) = struct.unpack(">I", frames[0][4:8])
            meta = json.loads(frames[0][8:8 + length])
            assert meta["prompt_id"] == prompt_id and meta["node_id"] == "2" and meta["image_type"] == "image/jpeg"
            image = Image.open(io.BytesIO(frames[0][8 + length:]))
        assert image.size == (16, 8)  # 64×32 fitted into 16×16
    await plain.close()
    await rich.close()


async def test_preview_method_none_by_default_and_per_prompt_override(server):
    ws = await connect(server, "p")
    quiet = await queue(server, save_prompt(1, slow_steps=2), client_id="p")
    assert (await watch(ws, quiet))[1] == []
    loud = await queue(server, save_prompt(2, slow_steps=2), client_id="p", extra_data={"preview_method": "auto"})
    assert len((await watch(ws, loud))[1]) == 2
    await ws.close()


async def test_execution_messages_reach_only_the_prompts_client(server):
    mine = await connect(server, "mine")
    other = await connect(server, "other")
    prompt_id = await queue(server, save_prompt(1, slow_steps=1), client_id="mine")
    await watch(mine, prompt_id)
    await asyncio.sleep(0.1)
    seen_by_other = []
    while True:
        try:
            seen_by_other.append(await other.receive_json(timeout=0.05))
        except (asyncio.TimeoutError, TypeError):
            break
    assert {m["type"] for m in seen_by_other} <= {"status"}  # queue changes are broadcast, nothing else
    assert seen_by_other, "status broadcasts expected"
    await mine.close()
    await other.close()


async def test_priority_front_and_explicit_number(server):
    await server.post("/api/diffloom/queue/pause")
    a = await queue(server, save_prompt(1))
    b = await queue(server, save_prompt(2))
    c = await queue(server, save_prompt(3), front=True)
    d = await queue(server, save_prompt(4), number=-100)
    pending = (await (await server.get("/queue")).json())["queue_pending"]
    assert [p[1] for p in sorted(pending, key=lambda p: p[0])] == [d, c, a, b]
    assert all(len(p) == 5 for p in pending)
    state = await (await server.get("/api/diffloom/queue")).json()
    assert state["paused"] is True and state["queue_pending"] == [d, c, a, b]
    await server.post("/queue", json={"delete": [a]})
    resp = await server.post("/api/diffloom/queue/reorder", json={"order": [b, d]})
    assert (await resp.json())["queue_pending"] == [b, c, d]
    ws = await connect_after_pause(server)
    await server.post("/api/diffloom/queue/resume")
    await wait_until_idle(server)
    assert list(await (await server.get("/history")).json()) == [b, c, d]
    await ws.close()


async def connect_after_pause(server):
    ws = await server.ws_connect("/ws")
    await ws.receive_json()
    return ws


async def wait_until_idle(server, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while (await (await server.get("/prompt")).json())["exec_info"]["queue_remaining"]:
            await asyncio.sleep(0.02)


async def test_interrupt_the_running_prompt(server):
    ws = await connect(server, "i")
    prompt_id = await queue(server, save_prompt(9, slow_steps=200, delay=0.02), client_id="i")
    async with asyncio.timeout(10):
        while (await ws.receive_json())["type"] != "progress":
            pass
    assert (await server.post("/interrupt", json={"prompt_id": "someone-else"})).status == 200
    await server.post("/interrupt", json={"prompt_id": prompt_id})
    messages, _ = await watch(ws, prompt_id)
    assert "execution_interrupted" in types(messages)
    entry = (await (await server.get(f"/history/{prompt_id}")).json())[prompt_id]
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    await ws.close()


async def test_a_failing_node_is_recorded_and_the_queue_goes_on(server):
    ws = await connect(server, "f")
    failing = await queue(server, {"1": {"class_type": "TestFail", "inputs": {"value": 3}}}, client_id="f")
    after = await queue(server, save_prompt(7), client_id="f")
    messages, _ = await watch(ws, failing)
    error = next(m["data"] for m in messages if m["type"] == "execution_error")
    assert error["exception_message"] == "refusing 3" and error["node_type"] == "TestFail"
    await watch(ws, after)
    history = await (await server.get("/history")).json()
    assert history[failing]["status"]["status_str"] == "error"
    assert history[after]["status"]["status_str"] == "success"
    jobs = (await (await server.get("/api/jobs?sort_order=asc")).json())["jobs"]
    assert [(j["id"], j["status"]) for j in jobs] == [(failing, "failed"), (after, "completed")]
    assert jobs[1]["preview_output"]["filename"] == "n_7.png" and jobs[1]["preview_output"]["nodeId"] == "3"
    assert jobs[0]["execution_error"]["exception_message"] == "refusing 3"
    job = await (await server.get(f"/api/jobs/{after}")).json()
    assert job["outputs"]["3"]["images"][0]["filename"] == "n_7.png" and "workflow" in job
    await ws.close()


async def test_partial_execution_targets_and_node_errors(server):
    prompt = {**save_prompt(1), "9": {"class_type": "TestSaveNumber", "inputs": {"value": 99999999999,
                                                                                  "filename_prefix": "x"}}}
    prompt["9"]["inputs"]["value"] = ["8", 0]
    prompt["8"] = {"class_type": "TestNumber", "inputs": {"value": 123456}}
    resp = await server.post("/prompt", json={"prompt": prompt})
    body = await resp.json()
    assert resp.status == 200 and "8" in body["node_errors"]  # one output failed, the other runs
    resp = await server.post("/prompt", json={"prompt": prompt, "partial_execution_targets": ["9"]})
    assert resp.status == 400
    resp = await server.post("/prompt", json={"prompt": save_prompt(2), "partial_execution_targets": []})
    assert resp.status == 400 and (await resp.json())["error"]["type"] == "prompt_no_outputs"


async def test_sensitive_extra_data_is_not_stored(server):
    prompt_id = await queue(server, save_prompt(3), extra_data={"api_key_comfy_org": "KEY", "note": "n"})
    await wait_until_idle(server)
    entry = (await (await server.get(f"/history/{prompt_id}")).json())[prompt_id]
    assert "api_key_comfy_org" not in entry["prompt"][3] and entry["prompt"][3]["note"] == "n"
    assert "create_time" in entry["prompt"][3]


async def test_hundred_prompts_posted_at_once_run_in_order(server):
    await server.post("/api/diffloom/queue/pause")
    responses = await asyncio.gather(*(server.post("/prompt", json={"prompt": save_prompt(i)}) for i in range(100)))
    assert all(r.status == 200 for r in responses)
    numbers = {(await r.json())["prompt_id"]: (await r.json())["number"] for r in responses}
    await server.post("/api/diffloom/queue/resume")
    await wait_until_idle(server, timeout=60)
    history = await (await server.get("/history")).json()
    assert list(history) == sorted(numbers, key=numbers.get)
    assert all(e["status"]["status_str"] == "success" for e in history.values())


async def test_reconnecting_with_the_same_client_id_replaces_the_socket(server):
    first = await connect(server, "same")
    second = await connect(server, "same")
    message = await first.receive(timeout=2)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    prompt_id = await queue(server, save_prompt(8), client_id="same")
    messages, _ = await watch(second, prompt_id)
    assert "execution_success" in types(messages)
    await second.close()


@pytest.mark.parametrize("body", [{"free_memory": True}, {"unload_models": True}])
async def test_free_keeps_the_server_working(server, body):
    assert (await server.post("/free", json=body)).status == 200
    prompt_id = await queue(server, save_prompt(4))
    await wait_until_idle(server)
    assert prompt_id in await (await server.get("/history")).json()


async def test_ui_data_json_cannot_hold_is_sent_and_stored_as_text(server):
    ws = await connect(server, "odd")
    prompt_id = await queue(server, {"1": {"class_type": "TestOddUI", "inputs": {}}}, client_id="odd")
    messages, _ = await watch(ws, prompt_id)
    executed = next(m["data"] for m in messages if m["type"] == "executed")
    assert executed["output"] == {"text": ["a/b.txt"], "tags": ["{'x'}"]}
    entry = (await (await server.get(f"/history/{prompt_id}")).json())[prompt_id]
    assert entry["outputs"]["1"]["text"] == ["a/b.txt"] and entry["status"]["status_str"] == "success"
    await ws.close()


async def test_a_preview_that_cannot_be_encoded_does_not_fail_the_prompt(make_server):
    server = await make_server(preview_method="auto")
    ws = await connect(server, "bp")
    prompt_id = await queue(server, {"1": {"class_type": "TestBadPreview", "inputs": {}}}, client_id="bp")
    messages, frames = await watch(ws, prompt_id)
    assert "execution_success" in types(messages) and frames == []
    await ws.close()


async def test_on_prompt_hooks_rewrite_the_body_and_a_failing_one_is_skipped(server):
    from web.server.state import STATE

    def broken(body):
        raise RuntimeError("plugin bug")

    def double(body):
        body["prompt"]["1"]["inputs"]["value"] *= 2
        return body

    server.server.app[STATE].prompt_filters.extend([broken, double])
    prompt_id = await queue(server, save_prompt(21))
    await wait_until_idle(server)
    entry = (await (await server.get(f"/history/{prompt_id}")).json())[prompt_id]
    assert entry["outputs"]["3"]["images"][0]["filename"] == "n_42.png"


async def test_jobs_filter_sort_and_page(server):
    ids = [await queue(server, save_prompt(value, slow_steps=steps, delay=0.03))
           for value, steps in ((61, 1), (62, 6), (63, 3))]
    await wait_until_idle(server)
    body = await (await server.get("/api/jobs?sort_by=execution_duration")).json()
    assert [j["id"] for j in body["jobs"]] == [ids[1], ids[2], ids[0]]
    body = await (await server.get("/api/jobs?status=completed&sort_order=asc&limit=2&offset=1")).json()
    assert [j["id"] for j in body["jobs"]] == ids[1:]
    assert body["pagination"] == {"offset": 1, "limit": 2, "total": 3, "has_more": False}
    assert (await (await server.get("/api/jobs?status=pending,failed")).json())["jobs"] == []
    await server.post("/api/diffloom/queue/pause")
    waiting = await queue(server, save_prompt(64))
    jobs = (await (await server.get("/api/jobs?status=pending")).json())["jobs"]
    assert [(j["id"], j["status"]) for j in jobs] == [(waiting, "pending")]
