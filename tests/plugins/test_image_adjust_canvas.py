"""Plugins in a real browser: the example pack's colour widget, failed-pack notices and the reload command."""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DIST = ROOT / "web" / "canvas" / "dist" / "index.html"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


LAUNCHER = ROOT / "tests" / "web" / "e2e" / "canvas_live_server.py"


def _live_server():
    """The e2e suite's `diffloom serve` launcher (tests/web/e2e/canvas_live_server.py)."""
    spec = importlib.util.spec_from_file_location("e2e_live_server", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def page(tmp_path):
    if not Path(CHROMIUM).exists() or not DIST.is_file() or not LAUNCHER.is_file():
        # make test (and so CI) provides all three: there a missing one is a failure, not a skip.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "needs Chromium, the built canvas and the e2e server launcher (make test provides them)")
    from playwright.sync_api import sync_playwright

    shutil.copytree(ROOT / "custom_nodes" / "image_adjust", tmp_path / "custom_nodes" / "image_adjust",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "custom_nodes" / "broken_pack.py").write_text("raise RuntimeError('no licence file')\n")
    launcher = _live_server()
    proc, url = launcher.start_server(tmp_path)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(launcher.EMPTY_TAB_SCRIPT)  # an empty canvas, not the first-visit template
            page.set_default_timeout(20000)
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready=true]")
            yield page
            browser.close()
    finally:
        launcher.stop_server(proc)


def test_the_tint_colour_is_edited_with_the_pack_widget(page):
    page.evaluate("window.diffloom.addNode('ImageTint', [300, 200])")
    node = page.locator(".dl-node[data-node-type='ImageTint']")
    picker = node.locator("input[type=color]")
    picker.wait_for()
    assert picker.input_value() == "#ffb066"  # the input's declared default
    picker.fill("#00ff00")
    assert node.locator("code").inner_text() == "#00ff00"
    workflow = page.evaluate("window.diffloom.getWorkflow()")
    tint = next(n for n in workflow["nodes"] if n["type"] == "ImageTint")
    assert "#00ff00" in tint["widgets_values"]
    assert page.errors == []


def test_failed_packs_are_announced_and_a_pack_can_be_reloaded_from_the_menu(page):
    notice = page.locator(".dl-notice", has_text='Custom node pack "broken_pack" failed to import')
    notice.wait_for()
    assert "RuntimeError: no licence file" in notice.inner_text() and "broken_pack.py:1" in notice.inner_text()
    page.locator(".react-flow__pane").click(button="right", position={"x": 700, "y": 450})
    page.get_by_text("Reload custom nodes: image_adjust").click()
    page.locator(".dl-notice", has_text='Reloaded "image_adjust": 4 node(s).').wait_for()
    assert page.errors == []
