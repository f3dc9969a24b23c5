"""From an empty canvas, build txt2img by searching and connecting nodes, run it on a tiny SD1 checkpoint, and see
the picture on the SaveImage node."""

from __future__ import annotations

import pytest

from canvas_live_server import start_server, stop_server

pytestmark = pytest.mark.timeout(300)

# Top-left corners (screen pixels) where each node is added; chosen so no node covers another.
LAYOUT = {
    "CheckpointLoaderSimple": ("Load Checkpoint", (20, 80)),
    "CLIPTextEncode": ("CLIP Text Encode", (340, 80)),
    "EmptyLatentImage": ("Empty Latent Image", (340, 560)),
    "KSampler": ("KSampler", (680, 80)),
    "VAEDecode": ("VAE Decode", (1040, 80)),
    "SaveImage": ("Save Image", (1040, 260)),
}
NEGATIVE_AT = (340, 320)


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):
    from tiny_models import write_tiny

    base = tmp_path_factory.mktemp("e2e_txt2img")
    write_tiny("sd1", base / "models" / "checkpoints")
    proc, url = start_server(base, "--preview-method", "latent2rgb")
    yield type("Server", (), {"url": url, "base": base})
    stop_server(proc)


def test_build_txt2img_from_empty_canvas_and_see_the_image(canvas):
    page = canvas.page
    for type_, (query, at) in LAYOUT.items():
        canvas.search_add(query, at)
        canvas.node(type_).wait_for()
    canvas.search_add("CLIP Text Encode", NEGATIVE_AT)
    canvas.node("CLIPTextEncode", 1).wait_for()

    ckpt, pos, neg = canvas.node("CheckpointLoaderSimple"), canvas.node("CLIPTextEncode"), canvas.node("CLIPTextEncode", 1)
    latent, sampler = canvas.node("EmptyLatentImage"), canvas.node("KSampler")
    decode, save = canvas.node("VAEDecode"), canvas.node("SaveImage")
    wires = [(ckpt, "o:0", sampler, "i:model"), (ckpt, "o:1", pos, "i:clip"), (ckpt, "o:1", neg, "i:clip"),
             (pos, "o:0", sampler, "i:positive"), (neg, "o:0", sampler, "i:negative"),
             (latent, "o:0", sampler, "i:latent_image"), (sampler, "o:0", decode, "i:samples"),
             (ckpt, "o:2", decode, "i:vae"), (decode, "o:0", save, "i:images")]
    for source, out, target, inp in wires:
        canvas.drag_to(canvas.handle(source, out), canvas.handle(target, inp))
    assert page.locator(".react-flow__edge").count() == len(wires)

    ckpt.locator(".dl-combo-button").click()
    page.locator(".dl-combo-popup input").fill("tiny")
    page.keyboard.press("Enter")
    assert ckpt.locator(".dl-combo-button .dl-widget-value").inner_text() == "tiny_sd1.safetensors"
    pos.locator("textarea").fill("a red apple")
    neg.locator("textarea").fill("blurry")
    canvas.set_number(latent, "width", 64)
    canvas.set_number(latent, "height", 64)
    canvas.set_number(sampler, "steps", 2)
    canvas.screenshot("txt2img_built")

    page.keyboard.press("Control+Enter")
    # while it runs, the running node is highlighted (model loading alone takes longer than a frame)
    page.locator(".dl-node.running").first.wait_for(state="attached", timeout=60000)
    image = save.locator("img.dl-node-image")
    image.wait_for(timeout=240000)
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=image.element_handle())
    # the sampler kept its last live preview (a binary WebSocket frame)
    sampler.locator("img.dl-node-image.preview").wait_for()
    canvas.screenshot("txt2img_done")
    assert not page.locator(".dl-node.error").count()
    assert not canvas.errors


# A WebSocket that never connects, as behind a proxy that drops upgrades.
NO_WEBSOCKET = """window.WebSocket = class { constructor() { setTimeout(() => this.onclose && this.onclose(), 0); }
                                          send() {} close() {} };"""


def test_without_a_websocket_the_result_still_arrives_by_polling(canvas):
    import json
    from pathlib import Path

    page = canvas.page
    page.context.add_init_script(NO_WEBSOCKET)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=20000)
    workflow = json.loads((Path(__file__).resolve().parents[3] / "workflows" / "txt2img.json").read_text())
    for node in workflow["nodes"]:
        if node["type"] == "CheckpointLoaderSimple":
            node["widgets_values"] = ["tiny_sd1.safetensors"]
        if node["type"] == "KSampler":
            node["widgets_values"][2] = 2  # steps
    page.evaluate("(w) => window.diffloom.loadWorkflow(w, 'no socket')", workflow)
    canvas.node("SaveImage").wait_for()
    page.keyboard.press("Control+Enter")
    image = canvas.node("SaveImage").locator("img.dl-node-image")
    image.wait_for(timeout=120000)
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=image.element_handle())
    assert not page.locator(".dl-node.error").count()
    assert not canvas.errors
