"""`POST /api/diffloom/convert`: editor workflow → API prompt with the registry's widget orders and display names."""

from tests.web.server.conftest import editor_workflow


async def test_untitled_nodes_are_titled_with_their_display_name(server):
    resp = await server.post("/api/diffloom/convert", json=editor_workflow())
    prompt = await resp.json()
    assert resp.status == 200, prompt
    assert prompt["1"] == {"inputs": {"value": 5}, "class_type": "TestNumber", "_meta": {"title": "Number"}}
    # a class without a display name is titled with its class name
    assert prompt["2"]["_meta"] == {"title": "TestSaveNumber"}
    assert prompt["2"]["inputs"] == {"value": ["1", 0], "filename_prefix": "n"}


async def test_a_custom_title_wins(server):
    prompt = await (await server.post("/api/diffloom/convert", json=editor_workflow(title="Seed source"))).json()
    assert prompt["1"]["_meta"] == {"title": "Seed source"}
