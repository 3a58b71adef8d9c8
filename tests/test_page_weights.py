"""The built book stays light enough to read online: under 40 MB in all, and each chapter page
(its HTML, with the figures and widget frames inlined there, plus the files it loads that no
other page shares: its images) under 4 MB. The notebooks' own 600 KB limit is checked in
``test_project.py``. Run ``make book`` first; without a build this skips (and fails under CI),
as the browser test does.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
BOOK_LIMIT = 40_000_000
PAGE_LIMIT = 4_000_000
SOURCES = re.compile(r'\bsrc="([^"]+)"')


def _built():
    if not (HTML / "index.html").exists():
        reason = "the book is not built: run `make book` first"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def chapter_pages() -> list[Path]:
    return sorted((ROOT / "book").glob("*.ipynb"))


def own_assets(page: Path) -> set[Path]:
    """Local files the page loads (``src=``) outside the theme's shared ``_static/``."""
    assets = set()
    for src in SOURCES.findall(page.read_text(encoding="utf-8")):
        parts = urlsplit(src)
        if parts.scheme or parts.netloc or not parts.path:  # data: URIs are in the HTML already
            continue
        path = (page.parent / unquote(parts.path)).resolve()
        if path.is_file() and "_static" not in path.relative_to(HTML.resolve()).parts:
            assets.add(path)
    return assets


def test_the_whole_book_is_under_40_mb():
    _built()
    total = sum(p.stat().st_size for p in HTML.rglob("*") if p.is_file())
    assert total < BOOK_LIMIT, f"the built book is {total / 1e6:.1f} MB (limit {BOOK_LIMIT / 1e6:.0f} MB)"


@pytest.mark.parametrize("notebook", chapter_pages(), ids=lambda p: p.stem)
def test_each_chapter_page_with_its_assets_is_under_4_mb(notebook):
    _built()
    page = HTML / "book" / f"{notebook.stem}.html"
    assert page.exists(), f"{page.relative_to(ROOT)} is missing from the build"
    weight = page.stat().st_size + sum(p.stat().st_size for p in own_assets(page))
    assert weight < PAGE_LIMIT, f"{notebook.stem}: {weight / 1e6:.2f} MB with its assets (limit 4 MB)"
