"""`progress_state` over the WebSocket: to the prompt's client only, broadcast when the prompt has none (§2.2)."""

import asyncio

from tests.web.server.conftest import save_prompt
from tests.web.server.test_prompt_flow import connect, queue, watch


async def drain(ws) -> list[dict]:
    """Text messages already waiting on a socket."""
    seen = []
    while True:
        try:
            seen.append(await ws.receive_json(timeout=0.1))
        except (asyncio.TimeoutError, TypeError):
            return seen


async def test_the_prompts_client_sees_each_node_run_and_finish(server):
    mine = await connect(server, "mine")
    other = await connect(server, "other")
    prompt_id = await queue(server, save_prompt(3, slow_steps=2), client_id="mine")
    messages, _ = await watch(mine, prompt_id)
    states = [m["data"] for m in messages if m["type"] == "progress_state"]
    assert states and all(s["prompt_id"] == prompt_id for s in states)
    # the slow node: running at 0/1, then each step, then finished at its last max
    slow = [(s["nodes"]["2"]["state"], s["nodes"]["2"]["value"], s["nodes"]["2"]["max"])
            for s in states if "2" in s["nodes"]]
    assert slow[0] == ("running", 0, 1) and ("running", 1, 2) in slow and slow[-1] == ("finished", 2, 2)
    assert states[-1]["nodes"]["3"] == {"value": 1, "max": 1, "state": "finished", "node_id": "3",
                                        "prompt_id": prompt_id, "display_node_id": "3", "parent_node_id": None,
                                        "real_node_id": "3"}
    kinds = [m["type"] for m in messages]
    assert kinds.index("progress_state") < kinds.index("executing")  # running is announced before executing
    await asyncio.sleep(0.1)
    assert "progress_state" not in {m["type"] for m in await drain(other)}
    await mine.close()
    await other.close()


async def test_without_a_client_id_progress_state_is_broadcast(server):
    watcher = await connect(server, "watcher")
    await queue(server, save_prompt(4, slow_steps=1))
    seen: list[dict] = []
    async with asyncio.timeout(20):
        while not any(m["type"] == "progress_state" and m["data"]["nodes"].get("3", {}).get("state") == "finished"
                      for m in seen):
            seen.append(await watcher.receive_json())
    assert "executing" not in {m["type"] for m in seen}  # client-only messages are still not sent
    await watcher.close()
