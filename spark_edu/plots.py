"""The book's figure style and the plotting helpers several chapters share.

Functions take an ``ax`` (or return a ``Figure``); none saves files or calls ``plt.show``.
Masks and attention maps put keys on x and queries on y. matplotlib loads lazily.
"""

from __future__ import annotations

import torch

#: One colormap per meaning, used by every chapter.
CMAP_WEIGHTS = "viridis"  # attention weights, probabilities, routing fractions
CMAP_MASK = "Greys"  # boolean masks: black = attend
CMAP_SIGNED = "RdBu_r"  # signed quantities (differences, residuals)

#: Colours for methods that recur across chapters.
COLORS = {
    "dense": "#4c72b0",
    "sparse": "#dd8452",
    "fk": "#55a868",
    "standard": "#4c72b0",
    "baseline": "#8172b3",
    "verifier": "#c44e52",
    "claimed": "#937860",
    "measured": "#4c72b0",
}


#: Figures are drawn at this resolution (crisp on the page and on high-density screens).
DPI = 144
#: The widest a figure may be drawn (inches): the book's column is 688 px, so a wider figure
#: is scaled down, and at 8 in its 9 pt legends still show at about 8 pt (688 / (8 · 96) · 9).
MAX_WIDTH = 8.0
#: Colours kept when a figure's PNG is palette-quantised (small files, no visible banding).
PNG_COLORS = 64


def use_book_style() -> None:
    """144 dpi, readable fonts, light grid; in a notebook, figures are shown as palette PNGs.

    matplotlib's font lookup warns on stderr about fonts a machine lacks (it then falls back to
    DejaVu Sans); which warnings appear depends on the machine's font cache, so they are silenced
    to keep every figure cell's output the same on every machine.
    """
    import logging

    import matplotlib as mpl

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    mpl.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "figure.figsize": (6.4, 3.6),
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "image.cmap": CMAP_WEIGHTS,
        }
    )
    _register_png_formatter()


def draw_for_png(figure, dpi: float = DPI) -> bytes:
    """``figure`` drawn as :func:`png_bytes` draws it (tidy log ticks, tight box): the raw PNG.

    Drawing changes a figure a little (its later draws differ by a few bytes), so a caller that
    needs only some of a figure's sizes draws the others with this, and gets the same bytes."""
    import io

    tidy_log_ticks(figure)
    raw = io.BytesIO()
    figure.savefig(raw, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return raw.getvalue()


def png_bytes(figure, dpi: float = DPI, colors: int = PNG_COLORS) -> bytes:
    """``figure`` as PNG bytes: tight box, palette-quantised to ``colors``, the dpi recorded
    in the file, no timestamp or software tag (the same figure gives the same bytes)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(draw_for_png(figure, dpi))).convert("RGB")
    image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True, dpi=(round(dpi), round(dpi)))
    return out.getvalue()


def tick_label_overlaps(figure) -> list[tuple[str, str]]:
    """Pairs of drawn tick labels (same axis, major or minor) whose boxes overlap."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    pairs = []
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _drawn_labels(axis)]
            for i, (a, box_a) in enumerate(boxes):
                pairs += [(a, b) for b, box_b in boxes[i + 1 :] if box_a.overlaps(box_b)]
    return pairs


def _drawn_labels(axis) -> list:
    """The axis's tick labels that are drawn: inside the view, visible, not empty."""
    labels = axis.get_majorticklabels() + axis.get_minorticklabels()
    return [t for t in labels if t.get_visible() and t.get_text() and t.get_window_extent().width > 0]


def tidy_log_ticks(figure) -> None:
    """Keep tick labels apart before a figure is saved. On a log axis the minor labels go
    (matplotlib labels some minor ticks when an axis spans about one decade; at the book's
    sizes they collide); labels that still overlap shrink to 8 pt, then go on one line
    (x labels upright)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    def overlapping(axis, draw: bool = True) -> bool:
        if draw:  # a label changed: measure again
            figure.canvas.draw()
        boxes = [t.get_window_extent() for t in _drawn_labels(axis)]
        return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])

    figure.canvas.draw()  # one draw measures every axis; only an axis that needs a fix draws again
    crowded = [axis for ax in figure.axes for axis in (ax.xaxis, ax.yaxis) if overlapping(axis, draw=False)]
    for axis in crowded:
        if axis.get_scale() == "log":
            axis.set_minor_formatter(NullFormatter())
            if not overlapping(axis):
                continue
        axis.set_tick_params(which="both", labelsize=8)
        if overlapping(axis):
            old = axis.get_major_formatter()
            axis.set_major_formatter(FuncFormatter(lambda x, pos, old=old: old(x, pos).replace("\n", " ")))
            if axis is axis.axes.xaxis:
                axis.set_tick_params(which="both", labelrotation=90)


def _register_png_formatter() -> None:
    """In IPython, show every matplotlib Figure through :func:`png_bytes` (replacing the inline
    backend's plain 8-bit RGBA PNG, about three times larger at the same dpi)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    import matplotlib
    from matplotlib.figure import Figure

    if "inline" in matplotlib.get_backend():
        # load the inline backend now: loading it later would reset the formatters
        import matplotlib_inline.backend_inline  # noqa: F401

    shell.display_formatter.formatters["image/png"].for_type(Figure, png_bytes)


def subplots(nrows: int = 1, ncols: int = 1, width: float = 3.2, height: float = 3.0, **kwargs):
    """``plt.subplots`` sized per panel, with the book style applied."""
    import matplotlib.pyplot as plt

    use_book_style()
    return plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, constrained_layout=True, **kwargs
    )


def subplot_mosaic(layout: list[list[str]], width: float = 3.2, height: float = 3.0, **kwargs):
    """``plt.subplot_mosaic`` sized per cell of ``layout`` (rows of panel names; a name repeated
    along a row spans), with the book style applied: (Figure, {name: Axes})."""
    import matplotlib.pyplot as plt

    use_book_style()
    size = (width * len(layout[0]), height * len(layout))
    return plt.subplot_mosaic(layout, figsize=size, constrained_layout=True, **kwargs)


def plot_matrix(
    ax,
    matrix: torch.Tensor,
    title: str = "",
    cmap: str = CMAP_WEIGHTS,
    vmin=None,
    vmax=None,
    xlabel: str = "key position j",
    ylabel: str = "query position i",
    colorbar: bool = True,
):
    """Show a (queries × keys) matrix with gridlines when small; returns the image."""
    data = matrix.detach().float().cpu().numpy()
    image = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    rows, cols = data.shape
    if max(rows, cols) <= 32:
        ax.set_xticks([x - 0.5 for x in range(1, cols)], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
        ax.grid(which="minor", color="white", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return image


def plot_mask(ax, mask: torch.Tensor, title: str = ""):
    """A boolean mask: black cells may attend, white cells are masked out."""
    return plot_matrix(ax, mask.to(torch.float32), title, cmap=CMAP_MASK, vmin=0, vmax=1, colorbar=False)


def plot_loglog_fit(ax, xs, ys, slope: float, label: str, color=None, marker: str = "o"):
    """Measured points on log–log axes with a reference line ``y ∝ x^slope`` through the last point."""
    xs, ys = list(xs), list(ys)
    line = ax.loglog(xs, ys, marker=marker, linestyle="-", label=f"{label} (measured)", color=color)[0]
    ref = [ys[-1] * (x / xs[-1]) ** slope for x in xs]
    ax.loglog(xs, ref, linestyle="--", color=line.get_color(), alpha=0.6, label=f"∝ n^{slope:g}")
    return line


VERDICT_COLORS = {
    "reproduced": "#55a868",
    "matches by construction": "#8fbbd9",
    "differs": "#c44e52",
    "not reproducible as stated": "#8c8c8c",
}


def plot_verdict_counts(ax, table, by: str = "section"):
    """Horizontal stacked bars: how many claims of each report ``section`` got each verdict."""
    from spark_edu.claims import REPORTS, VERDICTS

    groups = []  # (label, counts per verdict), report order then section order
    for report in REPORTS:
        seen = []
        for row in table.rows:
            if row.claim.report == report and getattr(row.claim, by) not in seen:
                seen.append(getattr(row.claim, by))
        for name in seen:
            rows = [r for r in table.rows if r.claim.report == report and getattr(r.claim, by) == name]
            groups.append((f"{report}: {name}", [sum(r.verdict == v for r in rows) for v in VERDICTS]))
    labels = [g[0] for g in groups][::-1]
    counts = [g[1] for g in groups][::-1]
    left = [0] * len(groups)
    for i, verdict in enumerate(VERDICTS):
        widths = [c[i] for c in counts]
        ax.barh(labels, widths, left=left, color=VERDICT_COLORS[verdict], label=verdict)
        left = [a + b for a, b in zip(left, widths)]
    ax.set(xlabel="claims")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(axis="y", visible=False)
    return ax


def message_figure(message: str, width: float = 6.4, height: float = 1.2):
    """A figure holding one line of text: what a widget shows for a combination of its controls
    that has no picture (say top-k above the number of experts), instead of raising."""
    fig, axes = subplots(1, 1, width=width, height=height)
    ax = axes[0, 0]
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10)
    return fig
