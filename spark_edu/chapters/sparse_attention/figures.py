"""Figures of the sparse-attention chapter: patterns with their tiles, speed-up against the
bound, time against length, memory against sparsity, and the fair resource study's accuracy
against training seconds and FLOPs. Each takes an ``ax`` or returns a ``Figure``. ``render``
is the chapter's widget.
"""

from __future__ import annotations

import torch

from spark_edu.attention import masks
from spark_edu.plots import COLORS, message_figure, plot_mask, subplots

PATTERN_KINDS = ("local", "strided", "random", "block", "global_window", "causal")
PATH_STYLE = {
    "sdpa": ("dense SDPA", "#4c72b0", "o"),
    "masked_sdpa": ("masked SDPA", "#8172b3", "v"),
    "reference": ("masked reference", "#937860", "^"),
    "readable": ("readable block", "#55a868", "s"),
    "gathered": ("gathered block", "#dd8452", "D"),
    "grouped": ("grouped block", "#da8bc3", "d"),
    "band": ("band", "#c44e52", "P"),
    "flex": ("compiled flex", "#222222", "X"),
}


def example_pattern(
    kind: str, length: int = 64, block_size: int = 8, sparsity: float = 0.7, window: int = 4, seed: int = 0
):
    """A predicate of each kind, sized for pictures; ``window`` is the stride / half-width where used."""
    if kind == "local":
        return masks.sliding_window(masks.window_for_sparsity(length, sparsity))
    if kind == "strided":
        return masks.or_masks(masks.sliding_window(window), masks.strided(window))
    if kind == "random":
        return masks.random_elements(length, sparsity, seed)
    if kind == "block":
        return masks.block_sparse(masks.random_block_layout(-(-length // block_size), sparsity, seed), block_size)
    if kind == "global_window":
        return masks.global_window(block_size // 2, window)
    if kind == "causal":
        return masks.causal
    raise ValueError(f"kind must be one of {PATTERN_KINDS}, got {kind!r}")


def draw_pattern(ax, mask: torch.Tensor, block_size: int, title: str = ""):
    """The mask (black = attend) with the tile grid; empty tiles shaded: what a kernel may skip."""
    import matplotlib.patches as patches

    plot_mask(ax, mask, title)
    counts = masks.tile_counts(mask, block_size)  # (nq, nk)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j] == 0:
                ax.add_patch(
                    patches.Rectangle(
                        (j * block_size - 0.5, i * block_size - 0.5),
                        block_size,
                        block_size,
                        facecolor=COLORS["sparse"],
                        alpha=0.25,
                        edgecolor="none",
                    )
                )
    for edge in range(block_size, max(mask.shape), block_size):
        ax.axhline(edge - 0.5, color=COLORS["sparse"], linewidth=0.6)
        ax.axvline(edge - 0.5, color=COLORS["sparse"], linewidth=0.6)


def pattern_gallery(length: int = 64, block_size: int = 8):
    """Every pattern kind side by side, titled with its element and block sparsity."""
    fig, axes = subplots(2, 3, width=2.4, height=2.35)
    for ax, kind in zip(axes.flat, PATTERN_KINDS):
        mask = masks.dense_mask(example_pattern(kind, length, block_size), length)
        title = (
            f"{kind}\nelement {masks.element_sparsity(mask):.0%}, block {masks.block_sparsity(mask, block_size):.0%}"
        )
        draw_pattern(ax, mask, block_size, title)
        ax.set(xlabel="key j", ylabel="query i")
    return fig


def render(kind: str = "local", sparsity: float = 0.7, window: int = 4, block_size: int = 8, length: int = 64):
    """The widget's figure: one pattern, its tiles, element vs block sparsity and the bound.

    A block pattern keeps its diagonal tiles (every query sees its own tile), so its sparsity
    is at most ``1 − n/n²`` for ``n × n`` tiles; above that it shows a one-line message.
    """
    if kind == "block":
        n = -(-length // block_size)  # tiles per side
        if max(1, round((1.0 - sparsity) * n * n)) < n:
            return message_figure(
                f"a block pattern of {n}×{n} tiles keeps its {n} diagonal tiles, so its sparsity is at most "
                f"{1 - 1 / n:.2f}; lower the sparsity (now {sparsity:.2f}) or the block size"
            )
    mask = masks.dense_mask(example_pattern(kind, length, block_size, sparsity, window), length)
    s_e, s_b = masks.element_sparsity(mask), masks.block_sparsity(mask, block_size)
    fig, axes = subplots(1, 2, width=3.6, height=2.9)
    draw_pattern(axes[0, 0], mask, block_size, f"{kind}, L={length}, block {block_size}")
    ax = axes[0, 1]
    bars = {"element\nsparsity": s_e, "block\nsparsity": s_b}
    ax.bar(list(bars), list(bars.values()), color=[COLORS["claimed"], COLORS["sparse"]])
    ax.set(ylim=(0, 1), title=f"bound 1/(1−s_b) = {1 / (1 - s_b):.2f}x\n(report: 1/(1−s) = {1 / (1 - s_e):.2f}x)")
    for i, value in enumerate(bars.values()):
        ax.text(i, value + 0.02, f"{value:.2f}", ha="center")
    return fig


def plot_speedup_vs_sparsity(ax, rows, length: int, paths=("readable", "gathered", "band", "flex"), claimed=None):
    """Measured ratio to dense SDPA against block sparsity, with the bound ``1/(1 − s)``."""
    grid = torch.linspace(0, 0.92, 50)
    ax.plot(grid, 1 / (1 - grid), "--", color="grey", label="bound 1/(1−s)")
    for path in paths:
        pts = sorted((r.block_sparsity, r.ratio) for r in rows if r.length == length and r.path == path)
        if pts:
            label, color, marker = PATH_STYLE[path]
            ax.plot(*zip(*pts), marker=marker, linestyle="none", color=color, label=label)
    if claimed:
        xs, ys = zip(*claimed)
        ax.plot(xs, ys, "x", color=COLORS["claimed"], markersize=9, label="report (at element sparsity)")
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.set(
        yscale="log",
        xlabel="block sparsity (element sparsity for the report)",
        ylabel="speed-up vs dense SDPA",
        title=f"L = {length}",
    )
    ax.legend(fontsize=7, loc="upper left")  # the points and the bound rise to the right


def plot_time_vs_length(ax, rows, pattern: str, paths=("sdpa", "masked_sdpa", "readable", "gathered", "band", "flex")):
    """Median time against length on log–log axes, one line per path."""
    for path in paths:
        pts = sorted((r.length, r.median_ms) for r in rows if r.pattern == pattern and r.path == path)
        if pts:
            label, color, marker = PATH_STYLE[path]
            ax.loglog(*zip(*pts), marker=marker, color=color, label=label)
    ax.set(xlabel="sequence length L", ylabel="median time (ms)", title=pattern)
    ax.legend(fontsize=8)


def plot_memory(ax, points):
    """Peak memory against block sparsity: the materialising reference, fused SDPA, the sparse kernels."""
    xs = [p.block_sparsity for p in points]
    for attr, label, color in (
        ("reference_mb", "masked reference", "#937860"),
        ("sdpa_mb", "dense SDPA", "#4c72b0"),
        ("readable_mb", "readable block", "#55a868"),
        ("gathered_mb", "gathered block", "#dd8452"),
    ):
        ax.plot(xs, [getattr(p, attr) for p in points], marker="o", label=label, color=color)
    ax.set(yscale="log", xlabel="block sparsity", ylabel="peak memory (MB)")
    ax.legend(fontsize=8)


def plot_tile_granularity(ax, rows):
    """Block sparsity against tile size, one line per pattern (dotted: its element sparsity)."""
    names = list(dict.fromkeys(r.pattern for r in rows))
    for i, name in enumerate(names):
        pts = sorted((r.block_size, r.block_sparsity) for r in rows if r.pattern == name)
        line = ax.plot(*zip(*pts), marker="o", label=name, color=f"C{i}")[0]
        element = next(r.element_sparsity for r in rows if r.pattern == name)
        ax.axhline(element, color=line.get_color(), linestyle=":", linewidth=0.8)
    sizes = sorted({r.block_size for r in rows})
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set(xlabel="tile size b", ylabel="block sparsity s_b (dotted: element sparsity)", ylim=(-0.02, 1.0))
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))


FAIR_STYLE = {  # (colour, line style): rotary models dashed in their learned twin's colour
    "dense": (COLORS["dense"], "-"),
    "dense_local": (COLORS["fk"], "-"),
    "sparse": (COLORS["sparse"], "-"),
    "dense_rope": (COLORS["dense"], "--"),
    "sparse_rope": (COLORS["sparse"], "--"),
}


def plot_accuracy_vs_cost(study: dict, cost: dict, tasks=None):
    """Held-out accuracy against training seconds (left) and FLOPs (right), one row per task of the
    fair study (:mod:`.fair_study`), one thin line per seed at the model's chosen rate. Seconds are
    steps × the model's quiet one-thread step time from ``cost`` (:mod:`.fair_cost`), not the
    study's own clock, which ran beside other jobs."""
    from spark_edu.chapters.sparse_attention.fair_report import final_runs

    length = str(study["study"]["config"]["length"])
    if length not in cost["lengths"]:
        raise ValueError(f"cost must hold the study's length {length}, has {sorted(cost['lengths'])}")
    step_seconds = {name: row["median_ms"] / 1e3 for name, row in cost["lengths"][length].items()}
    tasks = list(study["study"]["tasks"] if tasks is None else tasks)
    fig, axes = subplots(len(tasks), 2, width=3.2, height=1.5, sharex="col", sharey=True)
    chance = 1 / study["study"]["config"]["vocab_size"]
    labels = (f"training seconds (one thread, T = {length})", "training FLOPs")
    for row, task in zip(axes, tasks):
        for ax in row:
            for model in study["study"]["models"]:
                for i, run in enumerate(final_runs(study, task, model)):
                    per_step = step_seconds[model] if ax is row[0] else run["step_flops"]
                    xs = [p["step"] * per_step for p in run["curve"]]
                    ys = [p["accuracy"] for p in run["curve"]]
                    color, style = FAIR_STYLE[model]
                    ax.plot(xs, ys, color=color, linestyle=style, linewidth=1, alpha=0.8, label=None if i else model)
            ax.axhline(study["study"]["target"], color="grey", linestyle="--", linewidth=0.8)
            ax.axhline(chance, color="grey", linestyle=":", linewidth=0.8)
            ax.set(ylim=(0, 1.02))
        row[0].set_ylabel(f"{task}\nheld-out accuracy")
    for ax, label in zip(axes[-1], labels):  # shared x axes: labelled once, at the bottom
        ax.set_xlabel(label)
    axes[0, 0].legend(fontsize=8, loc="best")
    return fig
