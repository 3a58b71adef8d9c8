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


def use_book_style() -> None:
    """Modest DPI, readable fonts, light grid: small PNGs that read well on the page."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 80,
            "savefig.dpi": 80,
            "figure.figsize": (6.4, 3.6),
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "image.cmap": CMAP_WEIGHTS,
        }
    )


def subplots(nrows: int = 1, ncols: int = 1, width: float = 3.2, height: float = 3.0, **kwargs):
    """``plt.subplots`` sized per panel, with the book style applied."""
    import matplotlib.pyplot as plt

    use_book_style()
    return plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, constrained_layout=True, **kwargs
    )


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
