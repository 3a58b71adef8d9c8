"""Figures a reader can read: every figure in the book is a >= 144 dpi PNG, no chapter figure
is drawn wider than ``MAX_WIDTH`` (the page would shrink its text), and no two tick labels of
a chapter's figures overlap (matplotlib reports each label's drawn box).

The dpi is checked on the committed notebooks' PNG outputs (``spark_edu.plots.png_bytes``
records it in the file); the overlap check draws each chapter's widget figure at its
defaults and at its static twin's extreme settings, plus the shared log-log helper over
chapter 1's lengths (whose minor tick labels used to collide).
"""

from __future__ import annotations

import base64
import importlib
import io
import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from spark_edu.plots import DPI, MAX_WIDTH, plot_loglog_fit, png_bytes, subplots, tick_label_overlaps  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
CHAPTERS = sorted(p.stem for p in NOTEBOOKS if (ROOT / "spark_edu" / "chapters" / p.stem / "figures.py").exists())
#: Widget figures at the far ends of their main knob (what the static twin shows), per chapter.
CORNERS = {
    "attention_from_scratch": [{"length": 2}, {"length": 32, "masking": "none"}],
    "sparse_attention": [{"sparsity": 0.0}, {"sparsity": 0.95, "kind": "random"}],
    "fk_attention": [{"beta": 0.0}, {"beta": 0.95, "n_terms": 12}],
    "truthfulness": [{"noise": 0.0}, {"noise": 1.0, "n_samples": 3000}],
    "spd_router": [{"noise_level": 0.05}, {"noise_level": 1.0, "n_components": 6}],
    "verifier": [{"length": 2}, {"length": 40, "depth": 12, "corrupted": True}],
    "spark_model": [{"fk": False, "spd": False, "verifier": False}],
    "moe": [{"k": 1, "steps": 30}, {"k": 4, "n_experts": 16, "steps": 30}],
}


def _pngs(path: Path):
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                yield base64.b64decode("".join(data["image/png"]))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_figures_are_144_dpi(path):
    pngs = list(_pngs(path))
    for png in pngs:
        dpi = Image.open(io.BytesIO(png)).info.get("dpi", (0, 0))
        assert round(dpi[0]) >= DPI >= 144, f"{path.name}: a figure at {dpi} dpi (re-execute the notebook)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_figures_fit_the_column(path):
    for png in _pngs(path):
        image = Image.open(io.BytesIO(png))
        width = image.size[0] / image.info.get("dpi", (DPI,))[0]
        assert width <= MAX_WIDTH, (
            f"{path.name}: a figure {width:.1f} in wide (max {MAX_WIDTH}; re-execute or re-lay out)"
        )


def _check(figure, what: str):
    try:
        png = png_bytes(figure)  # tidies the tick labels as the notebook's display does
        width = Image.open(io.BytesIO(png)).size[0] / DPI
        assert width <= MAX_WIDTH, f"{what}: {width:.1f} in wide, scaled down to the 688 px column (max {MAX_WIDTH})"
        assert not tick_label_overlaps(figure), f"{what}: overlapping tick labels {tick_label_overlaps(figure)}"
        for ax in figure.axes:
            assert ax.title.get_fontsize() >= 9, f"{what}: a title below 9 pt"
            legend = ax.get_legend()
            if legend is not None:
                assert min(t.get_fontsize() for t in legend.get_texts()) >= 7, f"{what}: a legend below 7 pt"
    finally:
        plt.close(figure)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_widget_figures_keep_tick_labels_apart(chapter):
    figures = importlib.import_module(f"spark_edu.chapters.{chapter}.figures")
    if not hasattr(figures, "render"):  # the audit: its verdict summary
        from spark_edu.results import data_dir

        _check(figures.summary_figure(data_dir("audit") / "claims.csv"), f"{chapter} summary_figure")
        return
    render = figures.render
    for params in [{"steps": 30} if chapter == "moe" else {}, *CORNERS.get(chapter, [])]:
        _check(render(**params), f"{chapter} render({params})")


def test_loglog_minor_labels_do_not_collide():
    fig, axes = subplots(1, 2)
    lengths = [128, 256, 512, 1024, 2048]
    plot_loglog_fit(axes[0, 0], lengths, [0.85, 2.3, 8.7, 53.1, 238.9], slope=2, label="time")
    plot_loglog_fit(axes[0, 1], lengths, [0.5, 2.0, 8.0, 32.0, 128.0], slope=2, label="peak memory")
    assert tick_label_overlaps(fig), "the check must see the collision this fixes"
    _check(fig, "plot_loglog_fit")


def test_png_bytes_are_deterministic_palette_pngs():
    fig, axes = subplots()
    axes[0, 0].plot([0, 1], [1, 0])
    first, second = png_bytes(fig), png_bytes(fig)
    plt.close(fig)
    image = Image.open(io.BytesIO(first))
    assert first == second and image.mode == "P" and round(image.info["dpi"][0]) == 144
