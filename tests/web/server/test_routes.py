"""Every route answers bare and under /api with ComfyUI's shapes; malformed requests get a 4xx with a message."""

import importlib.util
import json

import pytest

from tests.web.server.conftest import save_prompt


@pytest.mark.parametrize("prefix", ["", "/api"])
async def test_object_info_all_and_one(server, prefix):
    info = await (await server.get(f"{prefix}/object_info")).json()
    assert set(info) == {"TestNumber", "TestAdd", "TestSlow", "TestSaveNumber", "TestFail", "TestOddUI",
                         "TestBadPreview"}
    assert info["TestNumber"]["display_name"] == "Number"
    assert info["TestSaveNumber"]["output_node"] is True
    one = await (await server.get(f"{prefix}/object_info/TestAdd")).json()
    assert list(one) == ["TestAdd"] and one["TestAdd"]["input_order"] == {"required": ["a", "b"]}
    assert await (await server.get(f"{prefix}/object_info/Nope")).json() == {}


async def test_jobs_route_also_exists_under_api_api(server):
    for path in ("/api/jobs", "/api/api/jobs"):
        body = await (await server.get(path)).json()
        assert body == {"jobs": [], "pagination": {"offset": 0, "limit": None, "total": 0, "has_more": False}}


async def test_system_stats_and_features_shapes(server):
    stats = await (await server.get("/api/system_stats")).json()
    assert {"os", "ram_total", "ram_free", "comfyui_version", "python_version", "pytorch_version",
            "embedded_python", "argv"} <= set(stats["system"])
    assert {"name", "type", "index", "vram_total", "vram_free", "torch_vram_total", "torch_vram_free"} \
        <= set(stats["devices"][0])
    features = await (await server.get("/features")).json()
    assert features == {"supports_preview_metadata": True, "max_upload_size": 104857600.0,
                        "extension": {"manager": {"supports_v4": True}}}


async def test_model_listings(server, tmp_path):
    (tmp_path / "models" / "embeddings").mkdir(parents=True)
    (tmp_path / "models" / "embeddings" / "easy.safetensors").write_bytes(b"x")
    (tmp_path / "models" / "checkpoints" / "sub").mkdir(parents=True)
    (tmp_path / "models" / "checkpoints" / "sub" / "m.safetensors").write_bytes(b"12345")
    assert await (await server.get("/embeddings")).json() == ["easy"]
    folders = await (await server.get("/api/models")).json()
    assert "checkpoints" in folders and "configs" in folders
    assert await (await server.get("/api/models/checkpoints")).json() == ["sub/m.safetensors"]
    assert (await server.get("/api/models/nope")).status == 404
    experiment = await (await server.get("/api/experiment/models")).json()
    names = [entry["name"] for entry in experiment]
    assert "checkpoints" in names and "configs" not in names and "custom_nodes" not in names
    files = await (await server.get("/api/experiment/models/checkpoints")).json()
    assert [(f["name"], f["pathIndex"], f["size"]) for f in files] == [("sub/m.safetensors", 0, 5)]


async def test_view_metadata_reads_the_safetensors_header(server, tmp_path):
    header = json.dumps({"__metadata__": {"ss_name": "x"}}).encode()
    folder = tmp_path / "models" / "loras"
    folder.mkdir(parents=True)
    (folder / "l.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    resp = await server.get("/api/view_metadata/loras", params={"filename": "l.safetensors"})
    assert await resp.json() == {"ss_name": "x"}
    assert (await server.get("/api/view_metadata/loras", params={"filename": "l.ckpt"})).status == 404


async def test_front_end_boot_routes(server):
    for path in ("/api/extensions", "/api/workflow_templates", "/api/i18n", "/api/global_subgraphs"):
        resp = await server.get(path)
        assert resp.status == 200, path
    for url in await (await server.get("/api/extensions")).json():  # plugin web folders, served as scripts
        resp = await server.get(url)
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/javascript", url
    assert await (await server.get("/api/users")).json() == {"storage": "server", "migrated": False}
    assert await (await server.get("/api/settings")).json() == {}


async def test_extension_files_stay_in_their_pack_folder(server, tmp_path):
    from web.server.state import STATE

    web_dir = tmp_path / "packweb"
    (web_dir / "js").mkdir(parents=True)
    (web_dir / "js" / "main.js").write_text("export {}")
    (web_dir / "page.html").write_text("<b>x</b>")
    (tmp_path / "secret.js").write_text("SECRET")
    server.server.app[STATE].registry.web_directories["pack"] = web_dir
    assert "/extensions/pack/js/main.js" in await (await server.get("/api/extensions")).json()
    assert (await server.get("/extensions/pack/js/main.js")).headers["Content-Type"] == "text/javascript"
    assert (await server.get("/extensions/pack/page.html")).headers["Content-Type"] == "application/octet-stream"
    resp = await server.get("/extensions/pack/..%2Fsecret.js")
    assert resp.status in (403, 404) and "SECRET" not in await resp.text()
    assert (await server.get("/extensions/nopack/x.js")).status == 404


async def test_custom_node_pack_examples_and_locales(server, tmp_path):
    pack = tmp_path / "custom_nodes" / "mypack"
    (pack / "example_workflows").mkdir(parents=True)
    (pack / "example_workflows" / "demo.json").write_text("{}")
    (pack / "locales" / "en").mkdir(parents=True)
    (pack / "locales" / "en" / "main.json").write_text('{"hello": "Hello"}')
    (pack / "locales" / "en" / "nodeDefs.json").write_text('{"MyNode": {"display_name": "Mine"}}')
    assert await (await server.get("/api/workflow_templates")).json() == {"mypack": ["demo"]}
    assert (await server.get("/api/workflow_templates/mypack/demo.json")).status == 200
    assert await (await server.get("/api/i18n")).json() == {
        "en": {"hello": "Hello", "nodeDefs": {"MyNode": {"display_name": "Mine"}}}}


async def test_settings_roundtrip(server):
    assert (await server.post("/api/settings", json={"Comfy.A": 1, "Comfy.B": "x"})).status == 200
    assert (await server.post("/api/settings/Comfy.A", json=5)).status == 200
    assert await (await server.get("/api/settings")).json() == {"Comfy.A": 5, "Comfy.B": "x"}
    assert await (await server.get("/api/settings/Comfy.B")).json() == "x"
    assert await (await server.get("/api/settings/missing")).json() is None
    assert (await server.post("/api/settings", json=[1, 2])).status == 400


async def test_userdata_write_list_read_move_delete(server):
    resp = await server.post("/api/userdata/workflows%2Fa.json", data=b'{"nodes": []}')
    assert resp.status == 200 and await resp.json() == "workflows/a.json"
    resp = await server.post("/api/userdata/workflows%2Fa.json?overwrite=false", data=b"{}")
    assert resp.status == 409
    assert await (await server.get("/api/userdata", params={"dir": "workflows"})).json() == ["a.json"]
    full = await (await server.get("/api/userdata", params={"dir": "workflows", "full_info": "true"})).json()
    assert full[0]["path"] == "a.json" and full[0]["size"] == 13
    assert await (await server.get("/api/userdata/workflows%2Fa.json")).json() == {"nodes": []}
    tree = await (await server.get("/api/v2/userdata")).json()
    assert [(e["type"], e["path"]) for e in tree] == [("directory", "workflows"), ("file", "workflows/a.json")]
    moved = await server.post("/api/userdata/workflows%2Fa.json/move/workflows%2Fb.json?full_info=true")
    assert (await moved.json())["path"] == "workflows/b.json"
    assert (await server.get("/api/userdata/workflows%2Fa.json")).status == 404
    assert (await server.delete("/api/userdata/workflows%2Fb.json")).status == 204
    assert (await server.get("/api/userdata")).status == 400  # dir is required


async def test_userdata_cannot_leave_the_user_folder(server, tmp_path):
    (tmp_path / "secret.txt").write_text("no")
    for name in ("..%2F..%2Fsecret.txt", "%2E%2E%2F%2E%2E%2Fsecret.txt"):
        assert (await server.get(f"/api/userdata/{name}")).status in (400, 403, 404)
        assert (await server.post(f"/api/userdata/{name}", data=b"x")).status in (400, 403)
    assert (tmp_path / "secret.txt").read_text() == "no"
    assert (await server.get("/api/userdata", params={"dir": "../.."})).status == 403


async def test_post_prompt_error_shapes(server):
    async def post(body):
        resp = await server.post("/api/prompt", data=body if isinstance(body, (str, bytes)) else json.dumps(body))
        return resp.status, await resp.json()

    status, body = await post({"client_id": "x"})
    assert status == 400 and body == {"error": {"type": "no_prompt", "message": "No prompt provided",
                                                "details": "No prompt provided", "extra_info": {}}, "node_errors": {}}
    status, body = await post({"prompt": {"1": {"inputs": {}}}})
    assert status == 400 and body["error"]["type"] == "invalid_prompt" and body["error"]["details"] == "Node ID '#1'"
    status, body = await post({"prompt": {"1": {"class_type": "Nope", "inputs": {}}}})
    assert status == 400 and "Nope" in body["error"]["message"]  # the exact type is the validator's business
    status, body = await post({"prompt": {"1": {"class_type": "TestNumber", "inputs": {"value": 1}}}})
    assert status == 400 and body["error"]["type"] == "prompt_no_outputs"
    bad_value = save_prompt(1)
    bad_value["1"]["inputs"]["value"] = 99999
    status, body = await post({"prompt": bad_value})
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert body["node_errors"]["1"]["errors"][0]["type"] == "value_bigger_than_max"
    for malformed in ("{not json", b"\xff\xfe", "[1, 2]", "[" * 100000, '{"prompt": {}, "number": NaN}',
                      '{"prompt": {}, "number": 1e999}', '{"prompt": {"1": 5}}', {"prompt": [1]},
                      {"prompt": save_prompt(1), "number": "x"},
                      {"prompt": save_prompt(1), "extra_data": 3}, {"prompt": save_prompt(1), "client_id": 5},
                      {"prompt": save_prompt(1), "partial_execution_targets": "3"}):
        status, body = await post(malformed)
        assert status == 400 and body["error"]["message"], malformed


async def test_queue_history_and_actions_reject_bad_shapes(server):
    assert await (await server.get("/prompt")).json() == {"exec_info": {"queue_remaining": 0}}
    assert await (await server.get("/api/queue")).json() == {"queue_running": [], "queue_pending": []}
    for path, body in (("/api/queue", {"delete": "abc"}), ("/api/queue", {"clear": "yes"}),
                       ("/api/history", {"delete": [1]}), ("/api/history", "nope"), ("/api/free", {"free_memory": 1}),
                       ("/api/interrupt", {"prompt_id": 7}), ("/api/diffloom/queue/reorder", {"order": "a"})):
        resp = await server.post(path, data=json.dumps(body))
        assert resp.status == 400, (path, body)
        assert (await resp.json())["error"]["message"]
    assert (await server.get("/api/history", params={"max_items": "many"})).status == 400
    assert (await server.post("/api/interrupt")).status == 200  # an empty body is a global interrupt
    assert await (await server.get("/api/history/unknown")).json() == {}


@pytest.mark.parametrize("query,error", [("status=done", "Invalid status value(s): done"),
                                         ("sort_by=name", "sort_by must be"), ("limit=0", "positive"),
                                         ("limit=x", "limit must be an integer"), ("sort_order=up", "sort_order")])
async def test_jobs_query_errors(server, query, error):
    resp = await server.get(f"/api/jobs?{query}")
    assert resp.status == 400 and error in (await resp.json())["error"]
    assert (await server.get("/api/jobs/none")).status == 404


async def test_diffloom_workflows_and_convert_errors(server):
    names = await (await server.get("/api/diffloom/workflows")).json()
    assert isinstance(names, list)
    if names:
        assert (await server.get(f"/api/diffloom/workflows/{names[0]}")).status == 200
    assert (await server.get("/api/diffloom/workflows/nope")).status == 404
    assert (await server.get("/api/diffloom/workflows/..%2F..%2Fpyproject.toml")).status in (403, 404)
    assert (await server.post("/api/diffloom/convert", data="[]")).status == 400
    if importlib.util.find_spec("executor.convert") is None:
        return
    resp = await server.post("/api/diffloom/convert", json={"nodes": "oops"})
    assert resp.status == 400 and (await resp.json())["error"]["message"] == "Cannot convert the workflow"


async def test_canvas_page_and_internal_routes(server):
    resp = await server.get("/")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
    assert "diffloom" in await resp.text()
    folders = await (await server.get("/internal/folder_paths")).json()
    assert "checkpoints" in folders
    assert await (await server.get("/internal/files/output")).json() == []
    assert (await server.get("/internal/files/models")).status == 400
    assert (await server.get("/api/internal/folder_paths")).status == 404  # not duplicated under /api
    assert (await server.get("/internal/logs/raw")).status == 200


async def test_unknown_routes_and_methods_answer_in_the_error_shape(server):
    resp = await server.get("/api/no/such/route")
    assert resp.status == 404 and (await resp.json())["error"]["type"] == "not_found"
    resp = await server.put("/api/prompt")
    assert resp.status == 405 and "POST" in resp.headers["Allow"]
    resp = await server.get("/view", params={"filename": "missing.png"})
    assert (await resp.json())["error"]["details"] == "file not found: missing.png"


async def test_log_streaming_to_subscribed_sockets(server):
    import logging

    ws = await server.ws_connect("/ws?clientId=logs")
    await ws.receive_json()
    assert (await server.patch("/internal/logs/subscribe", json={"clientId": "logs", "enabled": True})).status == 200
    logging.getLogger("diffloom.test").warning("hello from the log")
    message = await ws.receive_json(timeout=5)
    assert message["type"] == "logs" and "hello from the log" in message["data"]["entries"][0]["m"]
    raw = await (await server.get("/internal/logs/raw")).json()
    assert any("hello from the log" in e["m"] for e in raw["entries"])
    assert (await server.patch("/internal/logs/subscribe", json={"enabled": True})).status == 400
    await ws.close()
