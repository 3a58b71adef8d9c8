"""The built book in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
as a reader of the static page gets it: no kernel and no network.

The book is served from 127.0.0.1 and every other request is aborted **and fails the test**:
the pages need nothing from a CDN (MathJax comes from the build, the ipywidgets scripts are
not loaded). For every page in the table of contents:

- it loads with no console error or page error, and every figure decodes;
- MathJax rendered its formulas (``mjx-container`` elements) and no raw ``\\(``, ``\\)`` or
  ``$$`` is left in the visible text (code blocks aside);
- no element sticks out of the content column, except inside a box that scrolls sideways;
- each static widget twin changes its figure when each of its controls moves by keyboard
  (range inputs: focus, ArrowRight, End; checkboxes: Space), with no console error.

Screenshots go to ``_build/screenshots/``: a full page per chapter and, per widget, its
default and moved view. Run ``make book`` first; ``make test`` does.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RAW_TEX = re.compile(r"\\\(|\\\)|\$\$")

pytestmark = pytest.mark.browser


def toc_pages() -> list[str]:
    """Document paths in ``_toc.yml`` order (root first), without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [str(Path(p).with_suffix("")) for p in pages]


def notebook_pages() -> set[str]:
    return {p for p in toc_pages() if (ROOT / f"{p}.ipynb").exists()}


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        _missing("the book is not built: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _missing("Debian's chromium is not installed (`make browser` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """One page opened offline; records blocked requests and the page's own errors."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        response = self.page.goto(url, wait_until="load")
        self.status = response.status if response else None
        self.page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        self.page.wait_for_timeout(200)

    def _route(self, route):
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _console(self, message):
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            self.errors.append(f"console: {message.text} at {where}")

    def close(self):
        self.context.close()


@pytest.fixture
def visit(server, browser):
    opened = []

    def open_page(page: str) -> Visit:
        v = Visit(browser, f"{server}/{page}.html")
        opened.append(v)
        return v

    yield open_page
    for v in opened:
        v.close()


VISIBLE_TEXT = """() => {
  const root = document.querySelector('article') || document.body;
  const copy = root.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  return copy.textContent;
}"""

OVERFLOWS = """() => {
  const column = document.querySelector('article.bd-article') || document.querySelector('article');
  const edge = column.getBoundingClientRect();
  const scrolls = e => { for (let a = e.parentElement; a && a !== column; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
    return false; };
  const out = [];
  column.querySelectorAll('*').forEach(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;
    if ((r.right > edge.right + 2 || r.left < edge.left - 2) && !scrolls(e))
      out.push(`${e.tagName.toLowerCase()}.${e.className}: ${Math.round(r.left)}-${Math.round(r.right)} px `
               + `outside ${Math.round(edge.left)}-${Math.round(edge.right)}`);
  });
  return out.slice(0, 10);
}"""


@pytest.mark.parametrize("page", toc_pages())
def test_page_offline(visit, page):
    v = visit(page)
    assert v.status == 200, f"{page}: HTTP {v.status}"
    assert v.page.title(), f"{page}: empty title"
    assert not v.blocked, f"{page}: requests leaving 127.0.0.1: {v.blocked}"
    assert not v.errors, f"{page}: {v.errors}"
    images = v.page.evaluate(
        "() => Array.from(document.querySelectorAll('.cell_output img, .output img'))"
        ".map(img => img.complete && img.naturalWidth > 0)"
    )
    if page in notebook_pages():
        assert images, f"{page}: a chapter must show at least one figure"
        assert all(images), f"{page}: {images.count(False)} figure(s) failed to load"
    raw = RAW_TEX.findall(v.page.evaluate(VISIBLE_TEXT))
    assert not raw, f"{page}: {len(raw)} raw TeX delimiter(s) in the visible text"
    source = (HTML / f"{page}.html").read_text()
    if "\\(" in source or "\\[" in source or 'class="math' in source:
        assert v.page.locator("mjx-container").count() > 0, f"{page}: MathJax rendered nothing"
    overflows = v.page.evaluate(OVERFLOWS)
    assert not overflows, f"{page}: elements outside the content column: {overflows}"
    if page in notebook_pages():
        SHOTS.mkdir(parents=True, exist_ok=True)
        v.page.screenshot(path=str(SHOTS / f"{Path(page).name}.png"), full_page=True)


def _frame(twin) -> str:
    return twin.locator("img.spark-twin-frame").get_attribute("src")


@pytest.mark.parametrize("page", sorted(notebook_pages()))
def test_static_widgets_move_by_keyboard(visit, page):
    v = visit(page)
    twins = v.page.locator(".spark-twin")
    if "interactive(render" not in (ROOT / f"{page}.ipynb").read_text():
        assert twins.count() == 0
        return
    assert twins.count() >= 1, f"{page}: the widget has no static twin on the page"
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = Path(page).name
    for t in range(twins.count()):
        twin = twins.nth(t)
        twin.scroll_into_view_if_needed()
        twin.screenshot(path=str(SHOTS / f"{name}-widget{t}-default.png"))
        controls = twin.locator("input")
        assert controls.count() >= 1, f"{page}: twin {t} has no controls"
        for c in range(controls.count()):
            control = controls.nth(c)
            label = control.get_attribute("name")
            before = _frame(twin)
            control.focus()
            if control.get_attribute("type") == "checkbox":
                control.press("Space")
            else:
                start, top = int(control.input_value()), int(control.get_attribute("max"))
                if start < top:
                    control.press("ArrowRight")
                    assert int(control.input_value()) == start + 1, f"{page}: ArrowRight did not move {label}"
                    control.press("End")
                else:
                    control.press("Home")
            assert _frame(twin) != before, f"{page}: moving {label} did not change the figure"
            if control.get_attribute("type") == "checkbox":
                control.press("Space")  # back on: a later control may only matter while it is on
            if c == 0:
                twin.screenshot(path=str(SHOTS / f"{name}-widget{t}-moved.png"))
            assert control.evaluate("e => e === document.activeElement"), f"{page}: {label} lost focus"
    assert not v.errors, f"{page}: {v.errors}"
