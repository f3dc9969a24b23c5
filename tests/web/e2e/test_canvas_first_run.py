"""A first visit opens the shipped txt2img workflow, so a new user can queue at once; a reload keeps it once."""

from __future__ import annotations

import json

import pytest

from canvas_live_server import ROOT

pytestmark = pytest.mark.timeout(120)


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
