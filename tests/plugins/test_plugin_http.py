"""Custom node packs through the real server: object_info, extensions, pack routes, status, reload, prompts."""

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from plugin_sources import node_class

from diffloom.config import ServerConfig
from runtime.settings import current
from web.server.app import create_app

PACK = Path(__file__).parent / "packs" / "comfy_style"


@pytest.fixture
async def serve(base_dir, custom_nodes, registry):
    """`await serve(**config)`: load every pack of the temporary custom_nodes, start a server, return its client."""
    clients = []

    async def start(**overrides) -> TestClient:
        config = ServerConfig(base_directory=base_dir, **overrides)
        paths = current().paths
        for directory in (paths.input_dir, paths.output_dir, paths.temp_dir, paths.user_dir):
            directory.mkdir(parents=True, exist_ok=True)
        registry.with_plugins([custom_nodes], disable_all=config.disable_all_custom_nodes,
                              whitelist=config.whitelist_custom_nodes)
        client = TestClient(TestServer(create_app(config, registry, paths), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
def packs(custom_nodes, write_pack):
    shutil.copytree(PACK, custom_nodes / "comfy_style")
    write_pack("broken.py", "import nope_not_here\n")
    write_pack("greedy.py", """
from aiohttp import web
from server import PromptServer

@PromptServer.instance.routes.get("/prompt")
async def steal(request):
    return web.json_response({"stolen": True})

@PromptServer.instance.routes.get("/")
async def replace_canvas(request):
    return web.Response(text="stolen")
NODE_CLASS_MAPPINGS = {}
""")


async def _json(response, status=200):
    assert response.status == status, await response.text()
    return await response.json()


async def _run(client, prompt: dict) -> dict:
    """POST /prompt, wait on the WebSocket for `executing` with node null, return the history entry."""
    ws = await client.ws_connect("/ws?clientId=tester")
    queued = await _json(await client.post("/prompt", json={"prompt": prompt, "client_id": "tester"}))
    async with asyncio.timeout(30):
        while True:
            message = await ws.receive_json()
            if message["type"] == "executing" and message["data"]["node"] is None:
                break
    await ws.close()
    history = await _json(await client.get(f"/history/{queued['prompt_id']}"))
    return history[queued["prompt_id"]]


async def test_pack_nodes_are_in_object_info_and_run_through_the_queue(serve, packs):
    client = await serve()
    info = await _json(await client.get("/object_info/TestCountdown"))
    assert info["TestCountdown"]["python_module"] == "custom_nodes.comfy_style"
    assert info["TestCountdown"]["display_name"] == "Countdown loop"
    entry = await _run(client, {"1": {"class_type": "TestCountdown", "inputs": {"value": 1, "step": 2,
                                                                               "remaining": 3}},
                                "9": {"class_type": "TestShow", "inputs": {"value": ["1", 0]}}})
    assert entry["status"]["status_str"] == "success" and entry["outputs"]["9"] == {"text": ["7"]}


async def test_a_node_error_at_run_time_is_reported_with_the_node(serve, packs):
    client = await serve()
    entry = await _run(client, {"1": {"class_type": "TestExplode", "inputs": {"value": 5}},
                                "9": {"class_type": "TestShow", "inputs": {"value": ["1", 0]}}})
    error = next(data for event, data in entry["status"]["messages"] if event == "execution_error")
    assert entry["status"]["status_str"] == "error"
    assert (error["node_id"], error["node_type"], error["exception_message"]) == ("1", "TestExplode", "kaboom at 5")


async def test_status_route_lists_every_pack_with_errors(serve, packs):
    client = await serve()
    for prefix in ("", "/api"):
        status = await _json(await client.get(f"{prefix}/diffloom/custom_nodes"))
        packs_by_name = {p["name"]: p for p in status["packs"]}
        assert status["enabled"] is True
        assert packs_by_name["comfy_style"]["status"] == "loaded" and "TestInt" in packs_by_name["comfy_style"]["nodes"]
        broken = packs_by_name["broken"]
        assert broken["status"] == "failed" and "nope_not_here" in broken["error"] and broken["traceback"]
        assert broken["error_location"].endswith("broken.py:1")


async def test_extensions_list_and_serve_the_web_directory(serve, packs):
    client = await serve()
    urls = await _json(await client.get("/extensions"))
    assert "/extensions/comfy_style/hello.js" in urls
    assert "/extensions/diffloom.custom_nodes/custom_nodes.js" in urls, "the canvas side of the plugin system"
    script = await client.get("/extensions/comfy_style/hello.js")
    assert script.status == 200 and "comfy_style extension loaded" in await script.text()


async def test_pack_routes_are_served_bare_and_under_api_and_can_send_events(serve, packs):
    client = await serve()
    for prefix in ("", "/api"):
        assert await _json(await client.get(f"{prefix}/comfy_style/echo?say=hi")) == {"echo": "hi", "client": None}
    ws = await client.ws_connect("/ws?clientId=watcher")
    await _json(await client.post("/comfy_style/notify", json={"hello": 1}))
    async with asyncio.timeout(10):
        while (message := await ws.receive_json())["type"] != "comfy_style.notice":
            pass
    assert message["data"] == {"hello": 1}
    await ws.close()


async def test_a_pack_cannot_take_over_a_server_route(serve, packs):
    client = await serve()
    queue_info = await _json(await client.get("/prompt"))
    assert "stolen" not in queue_info and "exec_info" in queue_info
    status = await _json(await client.get("/diffloom/custom_nodes"))
    greedy = next(p for p in status["packs"] if p["name"] == "greedy")
    assert any("/prompt is already a diffloom route" in w for w in greedy["warnings"])
    assert any("/ is the canvas page" in w for w in greedy["warnings"])
    assert "stolen" not in await (await client.get("/")).text()


async def test_reload_after_editing_updates_nodes_routes_and_tells_the_canvas(serve, packs, custom_nodes):
    client = await serve()
    ws = await client.ws_connect("/ws?clientId=canvas")
    first = await _run(client, {"1": {"class_type": "TestInt", "inputs": {"value": 1}},
                                "9": {"class_type": "TestShow", "inputs": {"value": ["1", 0]}}})
    assert first["outputs"]["9"] == {"text": ["1"]}

    routes = custom_nodes / "comfy_style" / "routes.py"
    routes.write_text(routes.read_text().replace('{"echo": ', '{"version": 2, "echo": '))
    values = custom_nodes / "comfy_style" / "value_nodes.py"
    values.write_text(values.read_text().replace("return (value,)", "return (value * 10,)", 1)
                      + node_class("TestBrandNew") + "NODE_CLASS_MAPPINGS['TestBrandNew'] = TestBrandNew\n")
    report = await _json(await client.post("/api/diffloom/custom_nodes/comfy_style/reload"))
    assert report["status"] == "loaded" and "TestBrandNew" in report["nodes"]
    async with asyncio.timeout(10):
        while (message := await ws.receive_json())["type"] != "diffloom.custom_nodes":
            pass
    assert message["data"]["pack"] == "comfy_style" and message["data"]["status"] == "loaded"
    await ws.close()

    assert "TestBrandNew" in await _json(await client.get("/object_info"))
    assert (await _json(await client.get("/comfy_style/echo?say=x")))["version"] == 2
    again = await _run(client, {"1": {"class_type": "TestInt", "inputs": {"value": 1}},
                                "9": {"class_type": "TestShow", "inputs": {"value": ["1", 0]}}})
    assert again["outputs"]["9"] == {"text": ["10"]}, "the cache must not serve the old code's result"


async def test_reload_of_a_broken_edit_reports_the_error(serve, packs, custom_nodes):
    client = await serve()
    (custom_nodes / "comfy_style" / "flow_nodes.py").write_text("def oops(:\n")
    report = await _json(await client.post("/diffloom/custom_nodes/comfy_style/reload"))
    assert report["status"] == "failed" and report["error"].startswith("SyntaxError")
    assert report["error_location"].endswith("flow_nodes.py:1")
    assert "TestInt" not in await _json(await client.get("/object_info"))


async def test_reload_errors(serve, packs):
    client = await serve()
    body = await _json(await client.post("/diffloom/custom_nodes/ghost/reload"), status=404)
    assert body["error"]["type"] == "unknown_pack" and "'ghost'" in body["error"]["details"]


async def test_disable_all_custom_nodes(serve, packs):
    client = await serve(disable_all_custom_nodes=True)
    assert "TestInt" not in await _json(await client.get("/object_info"))
    status = await _json(await client.get("/diffloom/custom_nodes"))
    assert status["enabled"] is False and {p["status"] for p in status["packs"]} == {"disabled"}
    assert await _json(await client.get("/extensions")) == ["/extensions/diffloom.custom_nodes/custom_nodes.js"]
    await _json(await client.post("/diffloom/custom_nodes/comfy_style/reload"), status=409)


async def test_reloading_while_a_prompt_of_the_pack_runs(serve, packs, custom_nodes):
    client = await serve()
    ws = await client.ws_connect("/ws?clientId=tester")
    prompt = {"1": {"class_type": "TestWait", "inputs": {"value": 3, "seconds": 1.0}},
              "9": {"class_type": "TestShow", "inputs": {"value": ["1", 0]}}}
    queued = await _json(await client.post("/prompt", json={"prompt": prompt, "client_id": "tester"}))
    async with asyncio.timeout(10):
        while (await ws.receive_json())["type"] != "progress":
            pass
    values = custom_nodes / "comfy_style" / "value_nodes.py"
    values.write_text(values.read_text().replace("        return (value,)\n\n\nclass TestAsyncDouble",
                                                 "        return (value + 1,)\n\n\nclass TestAsyncDouble"))
    assert (await _json(await client.post("/diffloom/custom_nodes/comfy_style/reload")))["status"] == "loaded"
    async with asyncio.timeout(30):
        while not ((m := await ws.receive_json())["type"] == "executing" and m["data"]["node"] is None):
            pass
    await ws.close()
    running = (await _json(await client.get(f"/history/{queued['prompt_id']}")))[queued["prompt_id"]]
    assert running["status"]["status_str"] == "success" and running["outputs"]["9"] == {"text": ["3"]}
    prompt["1"]["inputs"]["seconds"] = 0.0
    assert (await _run(client, prompt))["outputs"]["9"] == {"text": ["4"]}


async def test_progress_text_reaches_the_client_as_a_binary_text_frame(serve, packs):
    import struct

    client = await serve()
    ws = await client.ws_connect("/ws?clientId=viewer")
    await _json(await client.post("/comfy_style/progress_text", json={"text": "step 2 of 5", "node": "12",
                                                                       "sid": "viewer"}))
    async with asyncio.timeout(10):
        while (message := await ws.receive()).type.name != "BINARY":
            pass
    frame = message.data
    event, node_length = struct.unpack(">II", frame[:8])
    assert event == 3 and frame[8:8 + node_length] == b"12" and frame[8 + node_length:] == "step 2 of 5".encode()
    await ws.close()


async def test_whitelisted_packs_load_even_with_custom_nodes_disabled(serve, packs):
    client = await serve(disable_all_custom_nodes=True, whitelist_custom_nodes=["comfy_style"])
    assert "TestInt" in await _json(await client.get("/object_info"))
    status = {p["name"]: p["status"] for p in (await _json(await client.get("/diffloom/custom_nodes")))["packs"]}
    assert status == {"comfy_style": "loaded", "broken": "disabled", "greedy": "disabled"}
    assert (await _json(await client.post("/diffloom/custom_nodes/comfy_style/reload")))["status"] == "loaded"
    await _json(await client.post("/diffloom/custom_nodes/broken/reload"), status=409)
