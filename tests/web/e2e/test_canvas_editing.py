"""Editing gestures in the canvas: menus, groups, copy/paste, bypass, templates, queue panel."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(120)


def nodes_of(page) -> list[dict]:
    return page.evaluate("() => window.diffloom.getWorkflow().nodes")


def test_right_click_menu_adds_a_node_from_its_category(canvas):
    page = canvas.page
    page.mouse.click(500, 400, button="right")
    page.locator(".dl-menu li", has_text="Add Node").hover()
    page.locator(".dl-menu .dl-menu li", has_text="image").first.hover()
    canvas.screenshot("context_menu")
    page.locator(".dl-menu li", has_text="EmptyImage").first.click()
    canvas.node("EmptyImage").wait_for()
    node = nodes_of(page)[0]
    assert node["type"] == "EmptyImage" and node["widgets_values"][:2] == [512, 512]


def test_group_moves_its_nodes_and_copy_paste_bypass(canvas):
    page = canvas.page
    canvas.search_add("Empty Image", (200, 200))
    canvas.node("EmptyImage").wait_for()
    canvas.search_add("Save Image", (600, 200))
    canvas.node("SaveImage").wait_for()
    page.locator(".react-flow__pane").click(position={"x": 50, "y": 700})
    page.keyboard.press("Control+a")
    page.keyboard.press("Control+g")
    title = page.locator(".dl-group-title")
    title.wait_for()
    before = {n["type"]: n["pos"] for n in nodes_of(page)}
    group_before = page.evaluate("() => window.diffloom.getWorkflow().groups[0].bounding")
    box = title.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 70, steps=8)
    page.mouse.up()
    after = {n["type"]: n["pos"] for n in nodes_of(page)}
    group_after = page.evaluate("() => window.diffloom.getWorkflow().groups[0].bounding")
    dx, dy = group_after[0] - group_before[0], group_after[1] - group_before[1]
    assert dx > 50 and dy > 30  # the group followed the mouse (less React Flow's drag threshold)
    for type_ in before:  # and its nodes moved with it, by the same amount
        assert after[type_] == pytest.approx([before[type_][0] + dx, before[type_][1] + dy], abs=0.01)
    canvas.screenshot("group_moved")

    page.keyboard.press("Control+z")  # the whole drag is one undo step
    assert {n["type"]: n["pos"] for n in nodes_of(page)} == before
    canvas.node("EmptyImage").locator(".dl-title").click()
    page.keyboard.press("Control+c")
    page.mouse.move(300, 600)
    page.keyboard.press("Control+v")
    assert page.locator(".dl-node[data-node-type='EmptyImage']").count() == 2
    page.keyboard.press("Control+b")
    page.locator(".dl-node.bypassed").wait_for()
    assert sorted(n["mode"] for n in nodes_of(page)) == [0, 0, 4]


def test_templates_open_in_a_new_tab(canvas):
    page = canvas.page
    page.locator(".dl-menubar button", has_text="Templates").click()
    page.locator(".dl-templates button", has_text="txt2img").first.click()
    canvas.node("KSampler").wait_for()
    assert page.locator(".dl-tab.active").inner_text().startswith("txt2img")
    page.locator(".dl-menubar button", has_text="Queue").first.click()
    page.locator(".dl-queue").wait_for()
    canvas.screenshot("template_and_queue_panel")


def test_reroute_carries_a_link_and_dragging_a_link_end_off_removes_it(canvas):
    from test_canvas import small_workflow

    page = canvas.page
    page.evaluate("wf => window.diffloom.loadWorkflow(wf, 'reroute')", small_workflow())
    empty, save = canvas.node("EmptyImage"), canvas.node("SaveImage")
    save.wait_for()
    box = save.bounding_box()
    page.mouse.click(box["x"] - 80, box["y"] + box["height"] + 120, button="right")
    page.locator(".dl-menu li", has_text="Add Reroute").click()
    reroute = canvas.node("Reroute")
    reroute.wait_for()
    canvas.drag_to(canvas.handle(empty, "o:0"), canvas.handle(reroute, "i:"))
    canvas.drag_to(canvas.handle(reroute, "o:0"), canvas.handle(save, "i:images"))
    assert page.locator(".react-flow__edge").count() == 2  # the direct link was replaced
    page.keyboard.press("Control+Enter")
    save.locator("img.dl-node-image").wait_for(timeout=60000)
    canvas.screenshot("reroute")

    updater = page.locator(".react-flow__edge .react-flow__edgeupdater-target").last
    end = updater.bounding_box()
    page.mouse.move(end["x"] + end["width"] / 2 - 6, end["y"] + end["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] - 150, end["y"] + 250, steps=10)
    page.mouse.up()
    assert page.locator(".react-flow__edge").count() == 1
    links = page.evaluate("() => window.diffloom.getWorkflow().links")
    assert [link[3] for link in links] == [3]  # only EmptyImage → Reroute is left


def test_primitive_feeding_a_combo_offers_its_choices(canvas):
    """A PrimitiveNode linked to KSampler's sampler_name shows the sampler combo, and picking from it is saved."""
    page = canvas.page
    workflow = {
        "last_node_id": 2, "last_link_id": 1, "version": 0.4, "groups": [], "config": {}, "extra": {},
        "links": [[1, 1, 0, 2, 4, "COMBO"]],
        "nodes": [
            {"id": 1, "type": "PrimitiveNode", "pos": [50, 50], "size": [260, 80], "flags": {}, "order": 0,
             "mode": 0, "inputs": [], "properties": {"Run widget replace on values": False},
             "outputs": [{"name": "COMBO", "type": "COMBO", "links": [1], "widget": {"name": "sampler_name"}}],
             "widgets_values": ["euler"]},
            {"id": 2, "type": "KSampler", "pos": [400, 50], "size": [300, 260], "flags": {}, "order": 1, "mode": 0,
             "inputs": [{"name": "model", "type": "MODEL", "link": None},
                        {"name": "positive", "type": "CONDITIONING", "link": None},
                        {"name": "negative", "type": "CONDITIONING", "link": None},
                        {"name": "latent_image", "type": "LATENT", "link": None},
                        {"name": "sampler_name", "type": "COMBO", "widget": {"name": "sampler_name"}, "link": 1}],
             "outputs": [{"name": "LATENT", "type": "LATENT", "links": []}], "properties": {},
             "widgets_values": [1, "fixed", 20, 7.0, "euler", "normal", 1.0]},
        ],
    }
    page.evaluate("(w) => window.diffloom.loadWorkflow(w, 'primitive combo')", workflow)
    primitive = canvas.node("PrimitiveNode")
    primitive.locator(".dl-combo-button").click()
    choices = page.locator(".dl-combo-popup li").all_inner_texts()
    assert "dpmpp_2m" in choices and "euler" in choices
    page.locator(".dl-combo-popup input").fill("dpmpp_2m_sde_gpu")
    page.keyboard.press("Enter")
    assert primitive.locator(".dl-combo-button .dl-widget-value").inner_text() == "dpmpp_2m_sde_gpu"
    saved = page.evaluate("() => window.diffloom.getWorkflow()")
    assert next(n for n in saved["nodes"] if n["type"] == "PrimitiveNode")["widgets_values"][0] == "dpmpp_2m_sde_gpu"
    assert not canvas.errors
