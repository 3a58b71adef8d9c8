"""The built book in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Every page in the table of contents must load, show its figures as decoded images, and log
no console error or page error from the book's own scripts. The book is served from
127.0.0.1; every other request (CDN scripts such as MathJax, require.js, Thebe) is aborted,
since this machine is offline, and only console errors located at those aborted URLs are
ignored. A full-page screenshot of the first chapter is saved to ``test-output/``.
Run ``make book`` first; ``make test`` does.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
OUTPUT = ROOT / "test-output"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

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


def visit(browser, url: str, screenshot: Path | None = None) -> dict:
    """Load ``url`` offline; return its own errors, aborted external URLs and image counts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    aborted: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith("http://127.0.0.1"):
            r.continue_()
        else:
            aborted.append(r.request.url)
            r.abort()

    def on_console(message):
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        if where and any(where.startswith(a) for a in aborted):
            return  # an offline CDN resource failing to load
        errors.append(f"console: {message.text} at {where}")

    page.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    response = page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    images = page.evaluate(
        """() => Array.from(document.querySelectorAll('.cell_output img, .output img'))
                 .map(img => img.complete && img.naturalWidth > 0)"""
    )
    title = page.title()
    if screenshot is not None:
        screenshot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    return {
        "status": response.status if response else None,
        "errors": errors,
        "aborted": aborted,
        "images": images,
        "title": title,
    }


@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_without_errors(server, browser, page):
    result = visit(browser, f"{server}/{page}.html")
    assert result["status"] == 200, f"{page}: HTTP {result['status']}"
    assert result["title"], f"{page}: empty title"
    assert not result["errors"], f"{page}: {result['errors']}"
    assert all(not url.startswith(server) for url in result["aborted"])
    if page in notebook_pages():
        assert result["images"], f"{page}: a chapter must show at least one figure"
        assert all(result["images"]), f"{page}: {result['images'].count(False)} figure(s) failed to load"


def test_first_chapter_screenshot(server, browser):
    first = next(p for p in toc_pages() if p in notebook_pages())
    shot = OUTPUT / "first-chapter.png"
    result = visit(browser, f"{server}/{first}.html", screenshot=shot)
    assert not result["errors"], result["errors"]
    assert shot.stat().st_size > 50_000, "the screenshot looks empty"
