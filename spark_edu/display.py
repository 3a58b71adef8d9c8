"""Small notebook helpers: show the package's own source, and checks that fail loudly.

``show_source`` lets a chapter print the tested code instead of a copy of it;
``check_close`` / ``check_shape`` are the "toy → package → check" step of each section;
``glue`` hands computed numbers to the prose (myst-nb), and is a no-op without myst-nb.
"""

from __future__ import annotations

import inspect
import textwrap

import torch


class Source:
    """Source text that renders as a highlighted code block in the book."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.text}\n```"


def show_source(obj) -> Source:
    """The source of a function, class or module from ``spark_edu``, dedented."""
    return Source(textwrap.dedent(inspect.getsource(obj)).rstrip())


def check_close(
    actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-5, what: str = "values"
) -> str:
    """Raise ``AssertionError`` unless the tensors agree; return a one-line stable summary."""
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shapes differ, {tuple(actual.shape)} vs {tuple(expected.shape)}")
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, equal_nan=True)
    return f"{what}: agree within atol={atol:g}, rtol={rtol:g}"


def check_shape(tensor: torch.Tensor, expected: tuple[int, ...], what: str = "tensor") -> str:
    """Raise ``AssertionError`` unless ``tensor.shape == expected``."""
    if tuple(tensor.shape) != tuple(expected):
        raise AssertionError(f"{what}: expected shape {tuple(expected)}, got {tuple(tensor.shape)}")
    return f"{what}: shape {tuple(expected)} ✓"


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`name``` in the chapter's prose (myst-nb).

    Where myst-nb is not installed (a bare ``pip install spark_edu``, Colab) there is no book to
    paste into, so this does nothing rather than fail.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)


class Table:
    """Rows of values as an HTML table in the book (numbers right-aligned, inside a box that
    scrolls sideways when the table is wider than the page) and as fixed-width text for
    ``print`` and the strict notebook test (nbval compares both, and both are deterministic).

    ``formats`` maps a column to a format spec (``".3f"``); other values print with ``str``.
    A cell may be ``None`` (shown as "—"), or an interval: ``(value, low, high)`` shows as
    ``value [low, high]`` and ``(low, high)`` as ``[low, high]``, each number in the column's format.
    A ``verdict`` column's cells get the class ``verdict-<verdict>`` (coloured by the book's CSS).
    ``caption`` goes above the table and ``notes`` below it (a line break starts a new line).
    """

    def __init__(self, rows, columns, formats: dict | None = None, caption: str = "", notes: str = ""):
        self.columns = list(columns)
        self.rows = [list(r.values()) if isinstance(r, dict) else list(r) for r in rows]
        if any(len(r) != len(self.columns) for r in self.rows):
            raise ValueError(f"rows: every row needs {len(self.columns)} values ({self.columns})")
        self.formats = dict(formats or {})
        self.caption = caption
        self.notes = notes

    def _cell(self, column: str, value) -> str:
        if value is None:
            return "—"
        if isinstance(value, tuple):
            *shown, low, high = (self._cell(column, v) for v in value)
            return " ".join([*shown, f"[{low}, {high}]"])
        spec = self.formats.get(column)
        return format(value, spec) if spec and isinstance(value, int | float) else str(value)

    def _numeric(self, j: int) -> bool:
        number = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
        values = [r[j] for r in self.rows if r[j] is not None]
        return bool(values) and all(
            number(v) or (isinstance(v, tuple) and len(v) in (2, 3) and all(map(number, v))) for v in values
        )

    def __repr__(self) -> str:
        cells = [[self._cell(c, v) for c, v in zip(self.columns, r)] for r in self.rows]
        widths = [max([len(c)] + [len(r[j]) for r in cells]) for j, c in enumerate(self.columns)]
        just = [str.rjust if self._numeric(j) else str.ljust for j in range(len(self.columns))]
        line = lambda vals: "  ".join(just[j](v, widths[j]) for j, v in enumerate(vals)).rstrip()  # noqa: E731
        lines = [line(self.columns), "  ".join("-" * w for w in widths), *(line(r) for r in cells)]
        return "\n".join(([self.caption] if self.caption else []) + lines + ([self.notes] if self.notes else []))

    def _repr_html_(self) -> str:
        from html import escape

        numeric = [self._numeric(j) for j in range(len(self.columns))]
        head = "".join(f'<th class="{"num" if n else "text"}">{escape(c)}</th>' for c, n in zip(self.columns, numeric))
        body = []
        for r in self.rows:
            tds = []
            for c, v, n in zip(self.columns, r, numeric):
                cls = "num" if n else "text"
                if c == "verdict":
                    cls += " verdict-" + str(v).replace(" ", "-")
                tds.append(f'<td class="{cls}">{escape(self._cell(c, v))}</td>')
            body.append(f"<tr>{''.join(tds)}</tr>")
        lines = lambda text: escape(text).replace("\n", "<br>")  # noqa: E731
        caption = f"<caption>{lines(self.caption)}</caption>" if self.caption else ""
        notes = f'<p class="spark-table-notes">{lines(self.notes)}</p>' if self.notes else ""
        return (
            f'<div class="spark-table-box" style="overflow-x:auto;max-width:100%"><table class="spark-table">'
            f"{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{notes}</div>"
        )
