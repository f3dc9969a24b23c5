"""`POST /api/diffloom/convert`: editor workflow → API prompt with the registry's widget orders and display names."""


def _workflow(**number_fields) -> dict:
    return {"nodes": [
        {"id": 1, "type": "TestNumber", "mode": 0, "widgets_values": [5],
         "outputs": [{"name": "INT", "type": "INT", "links": [1]}], **number_fields},
        {"id": 2, "type": "TestSaveNumber", "mode": 0, "widgets_values": [0, "n"],
         "inputs": [{"name": "value", "type": "INT", "link": 1, "widget": {"name": "value"}}]}],
        "links": [[1, 1, 0, 2, 0, "INT"]], "version": 0.4}


async def test_untitled_nodes_are_titled_with_their_display_name(server):
    resp = await server.post("/api/diffloom/convert", json=_workflow())
    prompt = await resp.json()
    assert resp.status == 200, prompt
    assert prompt["1"] == {"inputs": {"value": 5}, "class_type": "TestNumber", "_meta": {"title": "Number"}}
    # a class without a display name is titled with its class name
    assert prompt["2"]["_meta"] == {"title": "TestSaveNumber"}
    assert prompt["2"]["inputs"] == {"value": ["1", 0], "filename_prefix": "n"}


async def test_a_custom_title_wins(server):
    prompt = await (await server.post("/api/diffloom/convert", json=_workflow(title="Seed source"))).json()
    assert prompt["1"]["_meta"] == {"title": "Seed source"}
