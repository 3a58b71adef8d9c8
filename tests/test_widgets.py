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


# --- the static twins (spark_edu.widgets.StaticTwin): what a reader without a kernel gets ---


def _controls(chapter: str, source: str, monkeypatch) -> dict:
    """Run the widget cell with ``interactive`` recording its real ipywidgets controls."""
    recorded = {}
    monkeypatch.setattr(spark_edu.widgets, "interactive", lambda render, **controls: recorded.update(controls))
    figures = importlib.import_module(f"spark_edu.chapters.{chapter}.figures")
    exec(compile(ast.parse(source), f"book/{chapter}.ipynb", "exec"), {"render": figures.render})  # noqa: S102
    return recorded


@pytest.mark.parametrize("chapter, source", CELLS, ids=[chapter for chapter, _ in CELLS])
def test_twin_grid_spans_the_main_knob(chapter, source, monkeypatch):
    from spark_edu.widgets import MAIN_VALUES, MAX_FRAMES, twin_grid

    controls = _controls(chapter, source, monkeypatch)
    grid = twin_grid(controls)
    (main, (values, default, _)), *_ = grid.items()
    widget = controls[main]
    if hasattr(widget, "max"):  # a slider: its whole range, at >= 5 values where it has them
        assert values[0] == widget.min and values[-1] == widget.max, (main, values)
        assert len(values) >= min(MAIN_VALUES, round((widget.max - widget.min) / widget.step) + 1), values
    else:
        assert len(values) >= 2, (main, values)
    assert default in values
    frames = 1
    for vals, dflt, _ in grid.values():
        assert dflt in vals
        frames *= len(vals)
    assert 2 <= frames <= MAX_FRAMES
    moving = [name for name, (vals, _, _) in grid.items() if len(vals) > 1]
    assert moving[0] == main and len(moving) >= 2 or chapter == "spark_model", moving


def test_twin_frames_follow_the_grid(monkeypatch):
    """The attention chapter's twin: one frame per setting, the default frame equals
    ``render()`` at the defaults, and the page holds one control per moving parameter."""
    import base64
    import re

    from spark_edu.chapters.attention_from_scratch.figures import render
    from spark_edu.widgets import FRAME_WIDTHS, StaticTwin, choice, figure_png, slider

    twin = StaticTwin(render, {"length": slider(8, 2, 32), "masking": choice(["causal", "none"])})
    assert len(twin.index) == 12 and len(set(twin.images)) == len(twin.images)
    page = twin._repr_html_()
    markup = re.sub(r"[A-Za-z0-9+/=]{200,}", "", page)  # the frames' base64 may spell "http" by chance
    assert page.count('type="range"') == 2 and "http" not in markup
    default = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    figure = render(length=8, masking="causal")
    # deterministic PNGs: the twin draws each figure at the widths in turn until the frames fit
    assert base64.b64decode(default) in [figure_png(figure, w) for w in FRAME_WIDTHS]
    plt.close(figure)
    assert (
        repr(twin) == "static view (12 settings, 12 figures): length ∈ {2, 8, 14, 20, 26, 32}; masking ∈ {causal, none}"
    )


def test_twin_refuses_a_grid_too_large():
    from spark_edu.widgets import StaticTwin, slider

    with pytest.raises(ValueError, match="controls"):
        StaticTwin(
            lambda **kw: None, {f"t{i}": spark_edu.widgets.toggle(True) for i in range(5)} | {"a": slider(1, 0, 9)}
        )


def test_twin_draws_each_same_figure_key_once():
    """``render.same_figure`` folds settings that draw the same figure: one render call per key,
    every setting still has its frame, and folded settings share their image."""
    from spark_edu.widgets import StaticTwin, choice, toggle

    calls = []

    def render(on=True, option="a"):
        calls.append((on, option))
        figure = plt.figure(figsize=(2, 1))
        figure.text(0.5, 0.5, f"{on}{option if on else ''}")
        return figure

    render.same_figure = lambda on, option: (on, option if on else None)
    render.__module__ = "spark_edu.chapters.toy.figures"  # the twin names itself by chapter
    twin = StaticTwin(render, {"on": toggle(True), "option": choice(["a", "b", "c"], "a")})
    assert len(calls) == 4 and len(twin.index) == 6
    assert len(set(twin.index)) == 4  # the three "off" settings show one image
