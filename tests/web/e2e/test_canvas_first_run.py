"""A first visit opens the shipped txt2img workflow, so a new user can queue at once; a reload keeps it once."""

from __future__ import annotations

import json
import shutil

import pytest

from canvas_live_server import ROOT, start_server, stop_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):
    """A server over a copy of what a fresh clone ships: the toy model and its add-ons, and the input pictures."""
    base = tmp_path_factory.mktemp("e2e_fresh_install")
    shutil.copytree(ROOT / "models", base / "models")
    shutil.copytree(ROOT / "input", base / "input")
    proc, url = start_server(base)
    yield type("Server", (), {"url": url, "base": base})
    stop_server(proc)


def test_first_visit_opens_txt2img(first_visit_canvas):
    canvas = first_visit_canvas
    page = canvas.page
    shipped = json.loads((ROOT / "workflows" / "txt2img.json").read_text())
    canvas.node("KSampler").wait_for()
    types = sorted(page.locator(".dl-node").evaluate_all("nodes => nodes.map(n => n.dataset.nodeType)"))
    assert types == sorted(node["type"] for node in shipped["nodes"])
    assert page.locator(".dl-tab", has_text="txt2img").count() == 1
    canvas.screenshot("first_visit")

    saved = "() => JSON.parse(localStorage.getItem('diffloom.tabs') || 'null')?.tabs.length"
    page.wait_for_function(saved)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    canvas.node("KSampler").wait_for()
    assert len(page.evaluate("() => window.diffloom.getWorkflow()")["nodes"]) == len(shipped["nodes"])
    assert page.locator(".dl-tab").count() == 1
    assert page.evaluate(saved) == 1
    assert not canvas.errors


def test_queue_on_a_first_visit_gives_a_picture_from_the_shipped_toy(first_visit_canvas):
    """The issue's first minute: open, press Queue, see a picture (32x32 from the toy's 4x VAE), no setup."""
    canvas = first_visit_canvas
    page = canvas.page
    save = canvas.node("SaveImage")
    save.wait_for()
    page.keyboard.press("Control+Enter")
    image = save.locator("img.dl-node-image")
    image.wait_for(timeout=60000)
    page.wait_for_function("img => img.complete && img.naturalWidth === 32", arg=image.element_handle())
    assert not page.locator(".dl-node.error").count()
    assert not canvas.errors
