"""End-to-end fixtures: a real `diffloom serve` on a free port with a temp base directory, and headless Chromium.

The browser is Debian's Chromium (`/usr/bin/chromium`, installed by `make test`), driven by Playwright; the canvas
must be built (`make canvas`). Screenshots go to `test-artifacts/e2e/`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from canvas_live_server import EMPTY_TAB_SCRIPT, start_server, stop_server

ROOT = Path(__file__).resolve().parents[3]
DIST = ROOT / "web" / "canvas" / "dist" / "index.html"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _missing(reason: str) -> None:
    # `make test` (and so CI) installs Chromium and builds the canvas: there a missing piece is a failure.
    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


# Module scope, not session: Playwright's sync API keeps an event loop running while it is open, which would
# break every asyncio test collected after the browser tests.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _missing("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    if not DIST.is_file():
        _missing("the canvas is not built: run `make canvas` (npm ci && npm run build in web/canvas)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):
    """A server for the tests of one module; its base directory is `server.base`."""
    base = tmp_path_factory.mktemp("e2e_base")
    proc, url = start_server(base)
    yield type("Server", (), {"url": url, "base": base})
    stop_server(proc)


class Canvas:
    """A page showing the canvas, with the few gestures the tests need."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self) -> "Canvas":
        self.page.goto(self.url + "/")
        self.page.wait_for_selector("body[data-ready=true]", timeout=20000)
        return self

    def node(self, type_: str, nth: int = 0):
        return self.page.locator(f".dl-node[data-node-type='{type_}']").nth(nth)

    def node_count(self) -> int:
        return self.page.locator(".dl-node").count()

    def search_add(self, query: str, at: tuple[int, int]) -> None:
        """Double-clicks the empty canvas at `at`, types the query and picks the first hit."""
        self.page.mouse.dblclick(*at)
        box = self.page.locator(".dl-search-input")
        box.wait_for()
        box.fill(query)
        self.page.keyboard.press("Enter")

    def handle(self, node_locator, handle_id: str):
        return node_locator.locator(f".react-flow__handle[data-handleid='{handle_id}']")

    def drag(self, source, target: tuple[float, float]) -> None:
        box = source.bounding_box()
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(*target, steps=12)
        self.page.mouse.up()

    def drag_to(self, source, dest) -> None:
        box = dest.bounding_box()
        self.drag(source, (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))

    def set_number(self, node_locator, name: str, value: int) -> None:
        node_locator.locator(f".dl-widget-row[data-input='{name}'] .dl-number-body").click()
        field = node_locator.locator(f".dl-widget-row[data-input='{name}'] input")
        field.fill(str(value))
        field.press("Enter")

    def drop_file(self, name: str, data: bytes, mime: str) -> None:
        """Drops a file on the canvas as a user dragging it from the desktop would."""
        transfer = self.page.evaluate_handle(
            """([name, bytes, mime]) => { const dt = new DataTransfer();
                 dt.items.add(new File([new Uint8Array(bytes)], name, { type: mime })); return dt; }""",
            [name, list(data), mime])
        self.page.dispatch_event(".dl-canvas", "drop", {"dataTransfer": transfer})

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


def new_page(browser, first_visit: bool = False):
    """A page in a fresh browser profile; unless `first_visit`, it starts with one empty saved tab."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    if not first_visit:
        context.add_init_script(EMPTY_TAB_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


@pytest.fixture
def canvas(browser, server):
    context, page = new_page(browser)
    yield Canvas(page, server.url).open()
    context.close()


@pytest.fixture
def first_visit_canvas(browser, server):
    """The canvas as a browser that never opened it sees it (nothing in localStorage)."""
    context, page = new_page(browser, first_visit=True)
    yield Canvas(page, server.url).open()
    context.close()
