"""Every number the book's prose shows comes from code: myst-nb ``glue`` for measured values,
claims (``spark_edu.claims``) and settings. A decimal, a percentage, a multiplier (2.5x) or a
thousands-separated number typed into a markdown cell, outside maths, code, roles and glue,
fails this test, except a short allowlist of definitional constants kept in each notebook's
metadata (``"prose_numbers": {"95%": "why this number is definitional"}``)."""

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
PAGES = sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md"))
MAX_ALLOWED = 40  # over the whole book

#: Fenced directives whose body is prose (checked like any paragraph): admonitions, dropdowns.
PROSE_DIRECTIVES = {
    "dropdown",
    "note",
    "tip",
    "hint",
    "admonition",
    "warning",
    "important",
    "seealso",
    "caution",
    "attention",
    "danger",
    "error",
    "exercise",
    "solution",
}
FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(\{([\w:-]+)\})?")
#: What is not prose: maths, inline code, roles ({glue:text}`x`, {cite:p}`y`), link targets, HTML
#: tags and MyST labels; fenced code, {math} and {glue:figure} blocks are dropped by _fenced_prose.
NOT_PROSE = [
    r"\$\$.*?\$\$",
    r"\$[^$]+?\$",
    r"\\\(.*?\\\)",
    r"\\\[.*?\\\]",
    r"\{[a-z:-]+\}`[^`]*`",
    r"`[^`]*`",
    r"\]\([^)]*\)",
    r"<[^>]+>",
    r"^\([\w-]+\)=$",
]
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?\s?[x×](?!\w)|\d+(?:\.\d+)?\s?%|\d{1,3}(?:,\d{3})+|\d+\.\d+)")


def _fenced_prose(text: str) -> str:
    """Drop fenced blocks that are not prose (code, maths, glue figures); keep the bodies of
    admonitions and dropdowns, whose text a reader reads like any paragraph."""
    kept, stack = [], []  # stack: (fence, is_prose) of the open blocks
    for line in text.splitlines():
        match = FENCE.match(line)
        if match and stack and match.group(1) == stack[-1][0] and not match.group(2):
            stack.pop()
            continue
        if match and (match.group(2) or not stack or match.group(1) != stack[-1][0]):
            stack.append((match.group(1), match.group(3) in PROSE_DIRECTIVES))
            continue
        if all(is_prose for _, is_prose in stack):
            kept.append(line)
    return "\n".join(kept)


def prose(text: str) -> str:
    text = _fenced_prose(text)
    for pattern in NOT_PROSE:
        text = re.sub(pattern, " ", text, flags=re.S | re.M)
    return text


def typed_numbers(text: str) -> list[tuple[str, str]]:
    """``(number, line)`` for every measurement-like number left in the prose of ``text``."""
    return [
        (m.group(1).replace(" ", ""), line.strip()) for line in prose(text).splitlines() for m in NUMBER.finditer(line)
    ]


def _page(path: Path) -> tuple[list[str], dict]:
    if path.suffix == ".md":
        return [path.read_text()], {}
    nb = json.loads(path.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    return cells, nb["metadata"].get("prose_numbers", {})


def test_the_detector_sees_typed_numbers_and_ignores_code_maths_and_glue():
    text = (
        "Speed-up 2.5x at 37 % sparsity, 1,000 samples and AUC 0.98; "
        "$0.5$ and `0.5` and {glue:text}`auc:.3f` and {cite:p}`x2017` are fine.\n```python\nx = 0.3\n```"
    )
    assert [n for n, _ in typed_numbers(text)] == ["2.5x", "37%", "1,000", "0.98"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_typed_numbers_in_the_prose(path):
    cells, allowed = _page(path)
    found = [(n, line) for cell in cells for n, line in typed_numbers(cell) if n not in allowed]
    assert not found, f"{path.name}: glue these numbers (or justify them in the allowlist):\n" + "\n".join(
        f"  {n!r} in: {line[:140]}" for n, line in found
    )


def test_the_allowlist_is_short_justified_and_used():
    total = 0
    for path in PAGES:
        cells, allowed = _page(path)
        used = {n for cell in cells for n, _ in typed_numbers(cell)}
        for number, reason in allowed.items():
            assert len(reason.split()) >= 3, f"{path.name}: {number!r} needs a reason"
            assert number in used, f"{path.name}: {number!r} is allowlisted but no longer appears"
        total += len(allowed)
    assert total <= MAX_ALLOWED
