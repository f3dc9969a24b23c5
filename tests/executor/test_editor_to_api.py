"""Editor -> API conversion: ComfyUI front end's own output for real workflows, and each conversion rule."""

from __future__ import annotations

import json

import pytest

from executor.convert import editor_to_api
from executor.formats import load_workflow
from tests.executor import testnodes
from tests.executor.comfy_data import needs_data, standin_classes, workflow_pairs


@needs_data
@pytest.mark.parametrize("name, editor, api", workflow_pairs(), ids=[p[0] for p in workflow_pairs()])
def test_reproduces_the_front_ends_api_prompt(name, editor, api):
    classes, display_names = standin_classes()
    converted = editor_to_api(load_workflow(editor), classes, display_names)
    expected = json.loads(api.read_text())
    assert converted == expected
    assert list(converted) == list(expected)  # node order, as a JS object orders its keys
    for node_id, node in expected.items():
        assert list(converted[node_id]["inputs"]) == list(node["inputs"])  # widgets first, then links


CLASSES = testnodes.NODE_CLASS_MAPPINGS


def node(id, type, inputs=(), outputs=(), widgets=None, mode=0, **extra):
    data = {"id": id, "type": type, "pos": [0, 0], "size": [100, 50], "flags": {}, "order": 0, "mode": mode,
            "inputs": list(inputs), "outputs": list(outputs), "properties": {}, **extra}
    if widgets is not None:
        data["widgets_values"] = widgets
    return data


def slot(name, type, link=None, **extra):
    return {"name": name, "type": type, "link": link, **extra}


def out(name, type, links):
    return {"name": name, "type": type, "links": links}


def workflow(nodes, links, **extra):
    return {"last_node_id": 99, "last_link_id": 99, "nodes": nodes, "links": links, "groups": [], "config": {},
            "extra": {}, "version": 0.4, **extra}


def test_widgets_links_titles_and_notes():
    wf = workflow([
        node(1, "Const", outputs=[out("INT", "INT", [1])], widgets=[5], title="Five"),
        node(2, "Add", inputs=[slot("a", "INT", 1)], outputs=[out("sum", "INT", [2])], widgets=[3]),
        node(3, "Output", inputs=[slot("value", "*", 2)]),
        node(4, "Note", widgets=["just a note"]),
        node(5, "MarkdownNote", widgets=["# note"]),
    ], [[1, 1, 0, 2, 0, "INT"], [2, 2, 0, 3, 0, "INT"]])
    assert editor_to_api(wf, CLASSES, {"Add": "Add Two"}) == {
        "1": {"inputs": {"value": 5}, "class_type": "Const", "_meta": {"title": "Five"}},
        "2": {"inputs": {"b": 3, "a": ["1", 0]}, "class_type": "Add", "_meta": {"title": "Add Two"}},
        "3": {"inputs": {"value": ["2", 0]}, "class_type": "Output", "_meta": {"title": "Output"}},
    }


def test_reroute_and_primitive_node():
    wf = workflow([
        node(1, "Const", outputs=[out("INT", "INT", [1])], widgets=[5]),
        node(2, "Reroute", inputs=[slot("", "*", 1)], outputs=[out("", "INT", [2])]),
        node(3, "PrimitiveNode", outputs=[{"name": "INT", "type": "INT", "widget": {"name": "b"}, "links": [3]}],
             widgets=[42, "fixed"]),
        node(4, "Add", inputs=[slot("a", "INT", 2), slot("b", "INT", 3, widget={"name": "b"})],
             outputs=[out("sum", "INT", [])], widgets=[1]),
    ], [[1, 1, 0, 2, 0, "*"], [2, 2, 0, 4, 0, "INT"], [3, 3, 0, 4, 1, "INT"]])
    assert editor_to_api(wf, CLASSES)["4"]["inputs"] == {"b": 42, "a": ["1", 0]}
    assert set(editor_to_api(wf, CLASSES)) == {"1", "4"}


def test_muted_nodes_are_dropped_with_inputs_linked_to_them():
    wf = workflow([
        node(1, "Const", outputs=[out("INT", "INT", [1])], widgets=[5], mode=2),
        node(2, "Add", inputs=[slot("a", "INT", 1)], outputs=[out("sum", "INT", [])], widgets=[3]),
    ], [[1, 1, 0, 2, 0, "INT"]])
    assert editor_to_api(wf, CLASSES) == {"2": {"inputs": {"b": 3}, "class_type": "Add", "_meta": {"title": "Add"}}}


def test_bypassed_node_passes_a_matching_input_through():
    wf = workflow([
        node(1, "Text", outputs=[out("STRING", "STRING", [1])], widgets=["hi", "plain"]),
        node(2, "Const", outputs=[out("INT", "INT", [2])], widgets=[7]),
        # bypassed: its INT output continues from its first INT input (slot 1), not slot 0 (a STRING)
        node(3, "Fail", inputs=[slot("text", "STRING", 1), slot("value", "INT", 2)],
             outputs=[out("INT", "INT", [3])], widgets=[-1], mode=4),
        node(4, "IntOutput", inputs=[slot("value", "INT", 3)]),
    ], [[1, 1, 0, 3, 0, "STRING"], [2, 2, 0, 3, 1, "INT"], [3, 3, 0, 4, 0, "INT"]])
    api = editor_to_api(wf, CLASSES)
    assert "3" not in api and api["4"]["inputs"] == {"value": ["2", 0]}


def test_legacy_seed_control_and_list_values_and_dict_widgets():
    class Seeded:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"seed": ("INT", {"default": 0}), "names": ("STRING", {}), "after": ("FLOAT", {})}}

        RETURN_TYPES = ()

    classes = {**CLASSES, "Seeded": Seeded}
    wf = workflow([node(1, "Seeded", widgets=[7, "randomize", ["a", "b"], 0.5]),
                   node(2, "Seeded", widgets={"seed": 9, "names": "x", "after": 1.0})], [])
    api = editor_to_api(wf, classes)
    assert api["1"]["inputs"] == {"seed": 7, "names": {"__value__": ["a", "b"]}, "after": 0.5}
    assert api["2"]["inputs"] == {"seed": 9, "names": "x", "after": 1.0}


def _subgraph(id, inner_nodes, inner_links, inputs, outputs):
    return {"id": id, "version": 1, "revision": 0, "name": "sub", "state": {}, "config": {},
            "inputNode": {"id": -10, "bounding": [0, 0, 10, 10]}, "outputNode": {"id": -20, "bounding": [0, 0, 10, 10]},
            "inputs": inputs, "outputs": outputs, "widgets": [], "nodes": inner_nodes, "links": inner_links,
            "groups": [], "extra": {}}


def link_object(id, origin, origin_slot, target, target_slot, type):
    return {"id": id, "origin_id": origin, "origin_slot": origin_slot, "target_id": target,
            "target_slot": target_slot, "type": type}


def test_version_1_with_nested_subgraphs_is_flattened():
    inner_id, outer_id = "11111111-0000-0000-0000-000000000001", "22222222-0000-0000-0000-000000000002"
    # inner subgraph: x -> Add(b=100) -> out
    inner = _subgraph(inner_id, [node(1, "Add", inputs=[slot("a", "INT", 1)], outputs=[out("sum", "INT", [2])],
                                      widgets=[100])],
                      [link_object(1, -10, 0, 1, 0, "INT"), link_object(2, 1, 0, -20, 0, "INT")],
                      [{"id": "in-x", "name": "x", "type": "INT", "linkIds": [1]}],
                      [{"id": "out-y", "name": "y", "type": "INT", "linkIds": [2]}])
    # outer subgraph: x -> inner instance 5 -> Add(b=10) -> out, plus a Note and a muted node
    outer = _subgraph(outer_id, [
        node(5, inner_id, inputs=[slot("x", "INT", 3)], outputs=[out("y", "INT", [4])]),
        node(6, "Add", inputs=[slot("a", "INT", 4)], outputs=[out("sum", "INT", [5])], widgets=[10]),
        node(7, "Note", widgets=["inside"]),
    ], [link_object(3, -10, 0, 5, 0, "INT"), link_object(4, 5, 0, 6, 0, "INT"), link_object(5, 6, 0, -20, 0, "INT")],
        [{"id": "in-x", "name": "x", "type": "INT", "linkIds": [3]}],
        [{"id": "out-y", "name": "y", "type": "INT", "linkIds": [5]}])
    wf = {"id": "root", "revision": 0, "version": 1, "state": {"lastNodeId": 3, "lastLinkId": 2},
          "nodes": [node(1, "Const", outputs=[out("INT", "INT", [1])], widgets=[1]),
                    node(2, outer_id, inputs=[slot("x", "INT", 1)], outputs=[out("y", "INT", [2])]),
                    node(3, "IntOutput", inputs=[slot("value", "INT", 2)])],
          "links": [link_object(1, 1, 0, 2, 0, "INT"), link_object(2, 2, 0, 3, 0, "INT")],
          "definitions": {"subgraphs": [outer, inner]}, "extra": {}}
    api = editor_to_api(wf, CLASSES)
    assert api == {
        "1": {"inputs": {"value": 1}, "class_type": "Const", "_meta": {"title": "Const"}},
        "3": {"inputs": {"value": ["2:6", 0]}, "class_type": "IntOutput", "_meta": {"title": "IntOutput"}},
        "2:5:1": {"inputs": {"b": 100, "a": ["1", 0]}, "class_type": "Add", "_meta": {"title": "Add"}},
        "2:6": {"inputs": {"b": 10, "a": ["2:5:1", 0]}, "class_type": "Add", "_meta": {"title": "Add"}},
    }
    # and it runs: 1 + 100 + 10
    from executor.engine import Executor
    assert Executor(CLASSES).execute(api, "sub").outputs["3"] == {"values": [111]}


def test_api_order_is_a_javascript_objects():
    from executor.convert import _api_order

    assert list(_api_order({"b": 1, "10": 1, "2": 1, "02": 1, "1:5": 1, "4294967295": 1, "0": 1})) == \
        ["0", "2", "10", "b", "02", "1:5", "4294967295"]


def test_bypassed_subgraph_instance_and_unconnected_subgraph_input():
    sub_id = "33333333-0000-0000-0000-000000000003"
    sub = _subgraph(sub_id, [node(1, "Add", inputs=[slot("a", "INT", 1), slot("b", "INT", 3, widget={"name": "b"})],
                                  outputs=[out("sum", "INT", [2])], widgets=[7])],
                    [link_object(1, -10, 0, 1, 0, "INT"), link_object(2, 1, 0, -20, 0, "INT"),
                     link_object(3, -10, 1, 1, 1, "INT")],
                    [{"id": "in-x", "name": "x", "type": "INT", "linkIds": [1]},
                     {"id": "in-b", "name": "b", "type": "INT", "linkIds": [3]}],
                    [{"id": "out-y", "name": "y", "type": "INT", "linkIds": [2]}])

    def root(mode):
        return {"version": 1, "definitions": {"subgraphs": [sub]},
                "nodes": [node(1, "Const", outputs=[out("INT", "INT", [1])], widgets=[1]),
                          node(2, sub_id, inputs=[slot("x", "INT", 1), slot("b", "INT", None, widget={"name": "b"})],
                               outputs=[out("y", "INT", [2])], mode=mode),
                          node(3, "IntOutput", inputs=[slot("value", "INT", 2)])],
                "links": [link_object(1, 1, 0, 2, 0, "INT"), link_object(2, 2, 0, 3, 0, "INT")]}

    normal = editor_to_api(root(0), CLASSES)
    assert normal["2:1"]["inputs"] == {"b": 7, "a": ["1", 0]}  # b is not connected outside: the inner value stays
    bypassed = editor_to_api(root(4), CLASSES)
    assert set(bypassed) == {"1", "3"} and bypassed["3"]["inputs"] == {"value": ["1", 0]}
    muted = editor_to_api(root(2), CLASSES)
    assert set(muted) == {"1", "3"} and muted["3"]["inputs"] == {}


def test_unconnected_subgraph_input_takes_the_instances_promoted_widget_value():
    """The front end sends the value of the widget shown on the instance, not the inner node's own value."""
    sub_id = "44444444-0000-0000-0000-000000000004"
    # inside: Add(a <- x, b <- b); Text(text <- label), both fed by subgraph inputs
    sub = _subgraph(sub_id, [
        node(1, "Add", inputs=[slot("a", "INT", 1), slot("b", "INT", 3, widget={"name": "b"})],
             outputs=[out("sum", "INT", [2])], widgets=[7]),
        node(2, "Text", inputs=[slot("text", "STRING", 4, widget={"name": "text"})],
             outputs=[out("STRING", "STRING", [])], widgets=["inner"])],
        [link_object(1, -10, 0, 1, 0, "INT"), link_object(2, 1, 0, -20, 0, "INT"),
         link_object(3, -10, 1, 1, 1, "INT"), link_object(4, -10, 2, 2, 0, "STRING")],
        [{"id": "in-x", "name": "x", "type": "INT", "linkIds": [1]},
         {"id": "in-b", "name": "b", "type": "INT", "linkIds": [3]},
         {"id": "in-label", "name": "label", "type": "STRING", "linkIds": [4]}],
        [{"id": "out-y", "name": "y", "type": "INT", "linkIds": [2]}])
    wf = {"version": 1, "definitions": {"subgraphs": [sub]},
          "nodes": [node(1, "Const", outputs=[out("INT", "INT", [1])], widgets=[1]),
                    node(2, sub_id, inputs=[slot("x", "INT", 1), slot("b", "INT", None, widget={"name": "b"}),
                                            slot("label", "STRING", None, widget={"name": "label"})],
                         outputs=[out("y", "INT", [2])], widgets=[42, "outer"]),
                    node(3, "IntOutput", inputs=[slot("value", "INT", 2)])],
          "links": [link_object(1, 1, 0, 2, 0, "INT"), link_object(2, 2, 0, 3, 0, "INT")]}
    api = editor_to_api(wf, CLASSES)
    assert api["2:1"]["inputs"] == {"b": 42, "a": ["1", 0]}
    assert api["2:2"]["inputs"]["text"] == "outer"
    # an input connected outside still wins over any widget value
    wf["nodes"][1]["inputs"][1]["link"] = 3
    wf["nodes"].append(node(4, "Const", outputs=[out("INT", "INT", [3])], widgets=[5]))
    wf["links"].append(link_object(3, 4, 0, 2, 1, "INT"))
    assert editor_to_api(wf, CLASSES)["2:1"]["inputs"] == {"b": ["4", 0], "a": ["1", 0]}
