"""The Workflows panel saves the open graph into the server's user storage and opens it again from there."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(120)


def test_save_to_and_open_from_user_storage(canvas, server):
    page = canvas.page
    canvas.search_add("EmptyLatentImage", (400, 300))
    canvas.set_number(canvas.node("EmptyLatentImage"), "width", 640)
    page.get_by_role("button", name="Workflows").click()
    page.get_by_label("workflow name").fill("mine/latent test")
    page.locator(".dl-workflows-save button").click()
    entry = page.locator(".dl-workflow-open", has_text="mine/latent test")
    entry.wait_for()

    saved = list(server.base.rglob("workflows/mine/latent test.json"))
    assert len(saved) == 1, "the workflow is not in the server's user storage"
    assert json.loads(saved[0].read_text())["nodes"][0]["widgets_values"][0] == 640
    assert page.locator(".dl-tab.active", has_text="mine/latent test").count() == 1
    canvas.screenshot("workflows_panel")

    page.locator(".dl-tab-close").click()  # the only tab: an empty one takes its place
    page.wait_for_function("() => !window.diffloom.getWorkflow().nodes.length")
    entry.click()
    canvas.node("EmptyLatentImage").wait_for()
    assert page.evaluate("() => window.diffloom.getWorkflow()")["nodes"][0]["widgets_values"][0] == 640
    assert not canvas.errors
