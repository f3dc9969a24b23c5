"""`POST /api/diffloom/queue`: the canvas's Queue in one request — convert, validate and queue as POST /prompt does."""

from tests.web.server.conftest import editor_workflow
from tests.web.server.test_prompt_flow import wait_until_idle
from tests.web.server.test_security import TOKEN


async def test_queues_the_converted_workflow_with_the_workflow_embedded(server):
    workflow = editor_workflow(7)
    resp = await server.post("/api/diffloom/queue", json={"workflow": workflow, "client_id": "canvas",
                                                          "extra_data": {"extra_pnginfo": {"note": "kept"}}})
    answer = await resp.json()
    assert resp.status == 200, answer
    assert set(answer) == {"prompt_id", "number", "node_errors", "node_count"}
    assert answer["node_count"] == 2 and answer["node_errors"] == {}
    await wait_until_idle(server)
    entry = (await (await server.get(f"/history/{answer['prompt_id']}")).json())[answer["prompt_id"]]
    _, _, prompt, extra_data, outputs = entry["prompt"]
    assert prompt == await (await server.post("/api/diffloom/convert", json=workflow)).json()
    assert extra_data["extra_pnginfo"] == {"note": "kept", "workflow": workflow}
    assert extra_data["client_id"] == "canvas" and outputs == ["2"]
    assert entry["outputs"]["2"]["images"][0]["filename"] == "n_7.png"


async def test_priority_follows_the_same_counter_as_post_prompt(server):
    await server.post("/diffloom/queue/pause")  # keep them pending so the queue order can be read
    first = await (await server.post("/prompt", json={"prompt": {}})).json()  # invalid, but the counter moves
    queued = await (await server.post("/diffloom/queue", json={"workflow": editor_workflow()})).json()
    front = await (await server.post("/api/diffloom/queue", json={"workflow": editor_workflow(), "front": True})).json()
    chosen = await (await server.post("/api/diffloom/queue", json={"workflow": editor_workflow(), "number": 0.5})).json()
    assert "error" in first and [queued["number"], front["number"], chosen["number"]] == [1.0, -2.0, 0.5]
    pending = (await (await server.get("/diffloom/queue")).json())["queue_pending"]
    assert pending == [front["prompt_id"], chosen["prompt_id"], queued["prompt_id"]]


async def test_a_workflow_that_fails_validation_answers_like_post_prompt(server):
    resp = await server.post("/api/diffloom/queue", json={"workflow": editor_workflow(99999)})
    answer = await resp.json()
    assert resp.status == 400
    assert answer["error"]["type"] == "prompt_outputs_failed_validation"
    errors = answer["node_errors"]["1"]["errors"]
    assert errors[0]["type"] == "value_bigger_than_max" and errors[0]["extra_info"]["input_name"] == "value"
    assert (await (await server.get("/prompt")).json())["exec_info"]["queue_remaining"] == 0


async def test_a_workflow_that_cannot_be_converted_is_a_400_naming_the_problem(server):
    resp = await server.post("/api/diffloom/queue", json={"workflow": {"nodes": "not a list"}})
    answer = await resp.json()
    assert resp.status == 400 and answer["error"]["type"] == "convert_failed"
    assert "no 'nodes' list" in answer["error"]["details"]
    for body in ({}, {"workflow": [1, 2]}):
        resp = await server.post("/api/diffloom/queue", json=body)
        assert resp.status == 400 and (await resp.json())["error"]["type"] in ("no_workflow", "invalid_request")
    assert (await (await server.get("/queue")).json())["queue_pending"] == []


async def test_on_prompt_hooks_see_the_converted_prompt(server):
    from web.server.state import STATE

    def double(body):
        body["prompt"]["1"]["inputs"]["value"] *= 2
        return body

    server.server.app[STATE].prompt_filters.append(double)
    answer = await (await server.post("/api/diffloom/queue", json={"workflow": editor_workflow(21)})).json()
    await wait_until_idle(server)
    entry = (await (await server.get(f"/history/{answer['prompt_id']}")).json())[answer["prompt_id"]]
    assert entry["outputs"]["2"]["images"][0]["filename"] == "n_42.png"


async def test_the_auth_token_guards_it_as_it_guards_post_prompt(make_server):
    server = await make_server(auth_token=TOKEN)
    body = {"workflow": editor_workflow()}
    for path in ("/api/diffloom/queue", "/diffloom/queue"):
        resp = await server.post(path, json=body)
        assert resp.status == 401 and "token" in (await resp.json())["error"]["details"]
    resp = await server.post("/api/diffloom/queue", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200, await resp.json()


async def test_a_cross_site_request_is_refused(server):
    resp = await server.post("/api/diffloom/queue", json={"workflow": editor_workflow()},
                             headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status == 403
