"""A custom node pack edited on disk and reloaded through the route shows its new inputs in an open canvas."""

from __future__ import annotations

import json
import textwrap
import urllib.request

import pytest

from canvas_live_server import start_server, stop_server

pytestmark = pytest.mark.timeout(120)

PACK = '''
class Shade:
    CATEGORY = "e2e"
    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"amount": ("INT", {"default": 3})}}

    def run(self, amount, **extra):
        return (str(amount),)


NODE_CLASS_MAPPINGS = {"E2EShade": Shade}
'''

# The edit: a new widget before the old one, and a second node class.
EDITED = PACK.replace('{"amount": ("INT", {"default": 3})}',
                      '{"tone": (["warm", "cold"],), "amount": ("INT", {"default": 3})}').replace(
    'NODE_CLASS_MAPPINGS = {"E2EShade": Shade}', 'NODE_CLASS_MAPPINGS = {"E2EShade": Shade, "E2EShadeTwo": Shade}')


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e_reload")
    pack = base / "custom_nodes" / "e2e_shade"
    pack.mkdir(parents=True)
    (pack / "__init__.py").write_text(textwrap.dedent(PACK))
    proc, url = start_server(base)
    yield type("Server", (), {"url": url, "base": base, "pack": pack})
    stop_server(proc)


def test_reloaded_pack_updates_the_open_canvas(canvas, server):
    page = canvas.page
    canvas.search_add("E2EShade", (300, 300))
    node = canvas.node("E2EShade")
    canvas.set_number(node, "amount", 7)
    page.wait_for_function("() => document.querySelector('.dl-node')?.isConnected")

    (server.pack / "__init__.py").write_text(textwrap.dedent(EDITED))
    request = urllib.request.Request(f"{server.url}/api/diffloom/custom_nodes/e2e_shade/reload", method="POST")
    report = json.loads(urllib.request.urlopen(request, timeout=30).read())
    assert sorted(report["nodes"]) == ["E2EShade", "E2EShadeTwo"]

    # No page reload: the WebSocket event makes the canvas refetch /object_info.
    node.locator(".dl-widget-row[data-input='tone']").wait_for()
    workflow = page.evaluate("() => window.diffloom.getWorkflow()")
    assert workflow["nodes"][0]["widgets_values"] == ["warm", 7]
    canvas.search_add("E2EShadeTwo", (300, 600))
    canvas.node("E2EShadeTwo").wait_for()
    assert page.evaluate("() => document.body.dataset.ready") == "true"
    canvas.screenshot("pack_reloaded")
    assert not canvas.errors
