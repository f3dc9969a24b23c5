"""The canvas in real headless Chromium against a real diffloom server: build, queue, load, undo, errors."""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit

import pytest
from PIL import Image, PngImagePlugin

pytestmark = pytest.mark.timeout(180)


def small_workflow(width: int = 64) -> dict:
    """EmptyImage → SaveImage in the editor format (our own file, written for these tests)."""
    return {
        "last_node_id": 2, "last_link_id": 1, "version": 0.4, "groups": [], "config": {}, "extra": {},
        "nodes": [
            {"id": 1, "type": "EmptyImage", "pos": [100, 100], "size": [260, 150], "flags": {}, "order": 0, "mode": 0,
             "inputs": [], "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}], "properties": {},
             "widgets_values": [width, 48, 1, 0x3366FF]},
            {"id": 2, "type": "SaveImage", "pos": [500, 100], "size": [260, 150], "flags": {}, "order": 1, "mode": 0,
             "inputs": [{"name": "images", "type": "IMAGE", "link": 1}], "outputs": [], "properties": {},
             "widgets_values": ["e2e"], "keep_me": {"unknown": "field"}},
        ],
        "links": [[1, 1, 0, 2, 0, "IMAGE"]],
    }


def png_bytes(text_chunks: dict[str, str]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text_chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_build_by_search_and_connect_then_queue_shows_the_image(canvas):
    page = canvas.page
    canvas.search_add("Empty Image", (300, 300))
    empty = canvas.node("EmptyImage")
    empty.wait_for()
    canvas.set_number(empty, "width", 64)
    canvas.set_number(empty, "height", 32)
    # Dropping the dragged output on empty canvas opens the search filtered to nodes taking an IMAGE.
    canvas.drag(canvas.handle(empty, "o:0"), (900, 350))
    page.locator(".dl-search-input").wait_for()
    assert "IMAGE" in page.locator(".dl-search-input").get_attribute("placeholder")
    hits = page.locator(".dl-search-results li").all_inner_texts()
    assert not any(h.startswith("Empty Latent Image") for h in hits)  # takes no IMAGE
    page.locator(".dl-search-input").fill("save image")
    page.keyboard.press("Enter")
    save = canvas.node("SaveImage")
    save.wait_for()
    assert page.locator(".react-flow__edge").count() == 1
    posts: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posts.append(urlsplit(request.url).path))
    page.keyboard.press("Control+Enter")
    image = save.locator("img.dl-node-image")
    image.wait_for(timeout=60000)
    assert posts == ["/api/diffloom/queue"]  # no extension has beforeQueue: converted and queued in one request
    page.wait_for_function("img => img.complete && img.naturalWidth === 64 && img.naturalHeight === 32",
                           arg=image.element_handle())
    page.locator(".dl-menubar button", has_text="Gallery").click()
    assert page.locator(".dl-gallery-grid img").count() >= 1
    canvas.screenshot("build_and_queue")
    # the same prompt again: EmptyImage comes from the cache and says so
    page.keyboard.press("Control+Enter")
    empty.locator(".dl-badge", has_text="cached").wait_for()
    assert not canvas.errors


def test_incompatible_sockets_refuse_to_connect(canvas):
    canvas.page.evaluate("wf => window.diffloom.loadWorkflow(wf, 'two')", small_workflow())
    save = canvas.node("SaveImage")
    save.wait_for()
    canvas.search_add("Empty Latent Image", (700, 600))
    latent = canvas.node("EmptyLatentImage")
    latent.wait_for()
    before = canvas.page.locator(".react-flow__edge").count()
    canvas.drag_to(canvas.handle(latent, "o:0"), canvas.handle(save, "i:images"))
    canvas.page.wait_for_timeout(300)
    assert canvas.page.locator(".react-flow__edge").count() == before


def test_drop_json_and_png_files_and_save_keeps_unknown_fields(canvas):
    page = canvas.page
    canvas.drop_file("dropped.json", json.dumps(small_workflow(80)).encode(), "application/json")
    canvas.node("SaveImage").wait_for()
    assert page.locator(".dl-tab.active").inner_text().startswith("dropped")
    assert canvas.node("EmptyImage").locator("[data-input='width'] .dl-widget-value").inner_text() == "80"
    with page.expect_download() as download:
        page.keyboard.press("Control+s")
    saved = json.loads(open(download.value.path()).read())
    assert saved["nodes"][1]["keep_me"] == {"unknown": "field"}
    assert saved["links"] == [[1, 1, 0, 2, 0, "IMAGE"]]

    canvas.drop_file("with_workflow.png", png_bytes({"workflow": json.dumps(small_workflow(96))}), "image/png")
    page.wait_for_function("() => document.querySelector('.dl-tab.active')?.textContent.startsWith('with_workflow')")
    assert canvas.node("EmptyImage").locator("[data-input='width'] .dl-widget-value").inner_text() == "96"

    canvas.drop_file("plain.png", png_bytes({"Software": "paint"}), "image/png")
    page.locator(".dl-notice.error", has_text="PNG without a workflow").wait_for()
    canvas.drop_file("foreign.json", b'{"hello": "world"}', "application/json")
    page.locator(".dl-notice.error", has_text="not a ComfyUI workflow").wait_for()
    canvas.screenshot("drop_files")


def test_unknown_node_types_become_placeholders_and_survive_saving(canvas):
    page = canvas.page
    wf = small_workflow()
    wf["nodes"].append({"id": 3, "type": "SomePluginNode", "pos": [100, 400], "size": [200, 100], "flags": {},
                        "order": 2, "mode": 0, "inputs": [], "outputs": [], "properties": {"x": 1},
                        "widgets_values": [1, "two"]})
    wf["last_node_id"] = 3
    canvas.drop_file("plugin.json", json.dumps(wf).encode(), "application/json")
    placeholder = page.locator(".dl-node.missing")
    placeholder.wait_for()
    assert "SomePluginNode" in placeholder.inner_text()
    page.locator(".dl-notice.error", has_text="SomePluginNode").wait_for()
    saved = page.evaluate("() => window.diffloom.getWorkflow()")
    assert saved["nodes"][2] == wf["nodes"][2]


def test_undo_redo_across_add_edit_and_delete(canvas):
    page = canvas.page
    canvas.search_add("Empty Image", (400, 300))
    empty = canvas.node("EmptyImage")
    empty.wait_for()
    canvas.set_number(empty, "width", 100)
    width = empty.locator("[data-input='width'] .dl-widget-value")
    assert width.inner_text() == "100"
    page.locator(".react-flow__pane").click(position={"x": 50, "y": 50})
    page.keyboard.press("Control+z")
    assert width.inner_text() == "512"
    page.keyboard.press("Control+z")
    assert canvas.node_count() == 0
    page.keyboard.press("Control+y")
    page.keyboard.press("Control+Shift+z")
    assert width.inner_text() == "100"
    empty.locator(".dl-title").click()
    page.keyboard.press("Delete")
    assert canvas.node_count() == 0
    page.keyboard.press("Control+z")
    assert canvas.node_count() == 1
    canvas.screenshot("undo_redo")


def test_invalid_input_is_highlighted_with_the_servers_message(canvas):
    page = canvas.page
    page.evaluate("wf => window.diffloom.loadWorkflow(wf, 'invalid')", small_workflow(width=999999))
    empty = canvas.node("EmptyImage")
    empty.wait_for()
    page.locator(".dl-queue-button").click()
    row = empty.locator(".dl-widget-row.error[data-input='width']")
    row.wait_for()
    assert "bigger than max" in row.get_attribute("title")
    assert "error" in empty.get_attribute("class")
    page.locator(".dl-notice.error", has_text="Prompt outputs failed validation").wait_for()
    canvas.screenshot("invalid_input")


def test_open_tabs_come_back_after_a_reload(canvas):
    page = canvas.page
    page.evaluate("wf => window.diffloom.loadWorkflow(wf, 'first')", small_workflow())
    page.evaluate("wf => window.diffloom.loadWorkflow(wf, 'second')", small_workflow(72))
    page.wait_for_timeout(600)  # tabs are saved 300 ms after the last change
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    tabs = page.locator(".dl-tab").all_inner_texts()
    assert [t.split("×")[0].strip(" •") for t in tabs] == ["first", "second"]
    assert canvas.node("EmptyImage").locator("[data-input='width'] .dl-widget-value").inner_text() == "72"


def test_load_image_uploads_a_file_and_shows_its_thumbnail(canvas, server):
    page = canvas.page
    canvas.search_add("Load Image", (300, 200))
    node = canvas.node("LoadImage")
    node.wait_for()
    node.locator("input[type=file]").set_input_files(
        files=[{"name": "upload_me.png", "mimeType": "image/png", "buffer": png_bytes({})}])
    thumb = node.locator("img.dl-thumb")
    thumb.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 8", arg=thumb.element_handle())
    assert node.locator(".dl-combo-button .dl-widget-value").inner_text() == "upload_me.png"
    assert (server.base / "input" / "upload_me.png").is_file()
    # the definitions were refreshed: the uploaded file is a known choice, not flagged as missing
    assert "missing" not in node.locator(".dl-combo-button").get_attribute("class")
    node.locator(".dl-combo-button").click()
    assert "upload_me.png" in page.locator(".dl-combo-popup li").all_inner_texts()
    canvas.screenshot("load_image_upload")
