"""Plugin JavaScript from a custom node pack's WEB_DIRECTORY runs in the canvas through the documented hooks."""

from __future__ import annotations

import textwrap
from urllib.parse import urlsplit

import pytest

from canvas_live_server import start_server, stop_server

pytestmark = pytest.mark.timeout(120)

PACK = '''
class Stamp:
    CATEGORY = "e2e"
    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"label": ("E2E_LABEL", {"default": "hello"})}}

    def run(self, label):
        return (label,)


NODE_CLASS_MAPPINGS = {"E2EStamp": Stamp}
WEB_DIRECTORY = "./web"
'''

SCRIPT = '''
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

window.e2eEvents = [];
api.addEventListener("status", (event) => window.e2eEvents.push(event.detail));
app.registerExtension({
  name: "e2e.pack",
  setup(a) { window.e2eSetup = typeof a.getWorkflow; },
  beforeQueue(workflow, prompt) { window.e2eQueued = Object.values(prompt).map((node) => node.class_type); },
  commands: [{ label: "E2E: say hi", run: (a) => a.notify("hi from the e2e pack") }],
  widgets: {
    E2E_LABEL(container, ctx) {
      const input = document.createElement("input");
      input.className = "e2e-label";
      input.value = ctx.value;
      input.addEventListener("input", () => ctx.setValue(input.value.toUpperCase()));
      container.append(input);
    },
  },
});
'''


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e_ext")
    pack = base / "custom_nodes" / "e2e_pack"
    (pack / "web").mkdir(parents=True)
    (pack / "__init__.py").write_text(textwrap.dedent(PACK))
    (pack / "web" / "ext.js").write_text(SCRIPT)
    proc, url = start_server(base)
    yield type("Server", (), {"url": url, "base": base})
    stop_server(proc)


def test_extension_adds_a_command_a_widget_and_hears_events(canvas):
    page = canvas.page
    assert page.evaluate("() => window.e2eSetup") == "function"
    page.wait_for_function("() => window.e2eEvents.length > 0")  # the status message on connect
    page.mouse.click(700, 500, button="right")
    page.locator(".dl-menu li", has_text="E2E: say hi").click()
    page.locator(".dl-notice", has_text="hi from the e2e pack").wait_for()

    canvas.search_add("E2EStamp", (300, 300))
    label = canvas.node("E2EStamp").locator("input.e2e-label")
    assert label.input_value() == "hello"
    label.fill("abc")
    workflow = page.evaluate("() => window.diffloom.getWorkflow()")
    assert workflow["nodes"][0]["widgets_values"] == ["ABC"]
    canvas.screenshot("extension_widget")
    assert not canvas.errors


def test_a_before_queue_hook_sees_the_api_prompt_before_it_is_posted(canvas):
    page = canvas.page
    canvas.search_add("E2EStamp", (300, 300))
    canvas.node("E2EStamp").wait_for()
    posts: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posts.append(urlsplit(request.url).path))
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => window.e2eQueued !== undefined")
    assert page.evaluate("() => window.e2eQueued") == ["E2EStamp"]
    # the server refuses it (no output node), which is beside the point: the hook ran between the two requests
    page.locator(".dl-notice", has_text="Prompt has no outputs").wait_for()
    assert posts == ["/api/diffloom/convert", "/api/prompt"]
    assert not canvas.errors
