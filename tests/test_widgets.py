"""Every widget survives every corner of its controls.

The ranges come from the notebooks themselves: each ``interactive(render, ...)`` cell in
``book/*.ipynb`` is executed with the package's ``slider`` / ``choice`` / ``toggle`` replaced
by recorders, so the test sees exactly the ranges a reader is offered. A corner takes each
slider at its low or high end, each dropdown at every option (the ends for a numeric one)
and each checkbox both ways; ``render`` must return a Figure at every one of them (a
combination with no picture shows a one-line message in the figure).
"""

from __future__ import annotations

import ast
import importlib
import itertools
import json
from pathlib import Path

import matplotlib
import pytest

import spark_edu.widgets

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Arguments of ``render`` that are not controls, fixed here to keep the test short: the MoE
#: widget trains for ``steps`` (300) at every setting; 30 steps reach every code path.
FIXED = {"moe": {"steps": 30}}


def _widget_cells():
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "interactive(render" in source:
                yield path.stem, source


def _ranges(chapter: str, source: str, monkeypatch) -> dict[str, list]:
    """Run the widget cell with recording stand-ins; {control: its corner values}."""
    recorded = {}
    monkeypatch.setattr(
        spark_edu.widgets,
        "slider",
        lambda value, low, high, step=None, description="": sorted({type(value)(low), type(value)(high)}),
    )
    monkeypatch.setattr(spark_edu.widgets, "choice", lambda options, value=None, description="": list(options))
    monkeypatch.setattr(spark_edu.widgets, "toggle", lambda value, description="": [False, True])
    monkeypatch.setattr(spark_edu.widgets, "interactive", lambda render, **controls: recorded.update(controls))
    figures = importlib.import_module(f"spark_edu.chapters.{chapter}.figures")
    exec(compile(ast.parse(source), f"book/{chapter}.ipynb", "exec"), {"render": figures.render})  # noqa: S102
    ranges = {}
    for name, values in recorded.items():
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        ranges[name] = [min(values), max(values)] if numeric and len(values) > 2 else values
    return ranges


CELLS = list(_widget_cells())


def test_every_chapter_with_a_widget_is_covered():
    assert len(CELLS) >= 8, [chapter for chapter, _ in CELLS]


@pytest.mark.parametrize("chapter, source", CELLS, ids=[chapter for chapter, _ in CELLS])
def test_render_returns_a_figure_at_every_corner(chapter, source, monkeypatch):
    ranges = _ranges(chapter, source, monkeypatch)
    assert ranges, f"{chapter}: no controls found"
    monkeypatch.undo()
    render = importlib.import_module(f"spark_edu.chapters.{chapter}.figures").render
    names = list(ranges)
    for values in itertools.product(*(ranges[n] for n in names)):
        corner = dict(zip(names, values))
        figure = render(**corner, **FIXED.get(chapter, {}))
        assert isinstance(figure, Figure), f"{chapter} render({corner}) returned {type(figure).__name__}"
        plt.close(figure)
