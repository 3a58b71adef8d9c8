"""Figures of the Feynman–Kac attention chapter: the chain graph's resolvent (and the widget's
:func:`render`), truncation error against hops, cost and cost ratio against length, and the sweep's
accuracy.
Plot helpers take an ``ax`` (or axes); the others return a ``Figure``. matplotlib loads lazily.
"""

from __future__ import annotations

import torch

from spark_edu.fk_attention import path_series, resolvent
from spark_edu.validation import check_positive_int


def chain_attention(n_nodes: int = 10) -> torch.Tensor:
    """A chain graph as an attention matrix: node i attends to i + 1; the last node to itself."""
    check_positive_int("n_nodes", n_nodes, minimum=2)
    A = torch.zeros(n_nodes, n_nodes, dtype=torch.float64)
    A[torch.arange(n_nodes - 1), torch.arange(1, n_nodes)] = 1.0
    A[-1, -1] = 1.0
    return A  # (T, T), row-stochastic


def chain_resolvent(beta: float, n_nodes: int = 10, n_terms: int | None = None, normalize: bool = True) -> torch.Tensor:
    """``(1 − β)(I − βA)⁻¹`` (or its K-hop series) for the chain: the path weights, row i → column j."""
    A = chain_attention(n_nodes)
    eye = torch.eye(n_nodes, dtype=A.dtype)
    if n_terms is None:
        return resolvent(A, eye, beta, normalize)
    return path_series(A, eye, beta, n_terms, normalize)


def plot_chain_resolvents(betas=(0.3, 0.6, 0.9), n_nodes: int = 10):
    """Static figure: the normalised resolvent of the chain for several β."""
    from spark_edu.plots import plot_matrix, subplots

    fig, axes = subplots(1, len(betas), width=2.4, height=2.4)
    for ax, beta in zip(axes[0], betas):
        plot_matrix(
            ax,
            chain_resolvent(beta, n_nodes),
            f"β = {beta}",
            vmin=0,
            vmax=1,
            xlabel="node j",
            ylabel="node i",
            colorbar=ax is axes[0, -1],
        )
    return fig


def render(beta: float = 0.6, n_terms: int = 3, n_nodes: int = 10):
    """Widget figure: the K-hop series beside the exact resolvent, and node 0's row of each."""
    from spark_edu.plots import COLORS, plot_matrix, subplots

    exact = chain_resolvent(beta, n_nodes)
    series = chain_resolvent(beta, n_nodes, n_terms)
    fig, axes = subplots(1, 3, width=2.45, height=2.5)
    plot_matrix(
        axes[0, 0], series, f"series, K = {n_terms}", vmin=0, vmax=1, xlabel="node j", ylabel="node i", colorbar=False
    )
    plot_matrix(axes[0, 1], exact, f"exact, β = {beta}", vmin=0, vmax=1, xlabel="node j", ylabel="node i")
    ax = axes[0, 2]
    ax.plot(exact[0].numpy(), "o-", color=COLORS["fk"], label="exact")
    ax.plot(series[0].numpy(), "s--", color=COLORS["standard"], label=f"K = {n_terms}")
    ax.set(title="node 0: weight on node j", xlabel="node j", ylabel="path weight", ylim=(0, 1))
    ax.legend(fontsize=8)
    return fig


def plot_error_vs_hops(ax, errors: dict):
    """Measured error (solid) and the bound of eq-fk-bound (dashed) against K, one colour per β."""
    for beta, d in errors.items():
        line = ax.semilogy(d["hops"], d["error"], "o-", markersize=3, label=f"β = {beta}: measured")[0]
        ax.semilogy(d["hops"], d["bound"], "--", color=line.get_color(), label=f"β = {beta}: bound")
    ax.set(xlabel="hops kept K", ylabel="max |exact − series|", title="truncation error")
    ax.legend(fontsize=7)


def plot_cost(ax, rows: list[dict]):
    """Median time against sequence length for every path of ``analysis.measure_cost``, log–log."""
    from spark_edu.chapters.fk_attention.analysis import cost_paths

    for name in cost_paths(rows[0]):
        ax.loglog([r["n"] for r in rows], [r[name] for r in rows], "o-", markersize=3, label=name)
    ax.set(xlabel="sequence length n", ylabel="time (ms, median of paired rounds)", title="cost per call")
    ax.legend(fontsize=7)


def plot_cost_ratios(ax, rows: list[dict]):
    """Each path's cost in reference attentions against length: median and IQR of per-round ratios."""
    from spark_edu.chapters.fk_attention.analysis import REFERENCE, cost_paths

    ns = [r["n"] for r in rows]
    for name in cost_paths(rows[0]):
        if name == REFERENCE:
            continue
        mid = [r["ratio"][name] for r in rows]
        err = [[m - r["q1"][name] for m, r in zip(mid, rows)], [r["q3"][name] - m for m, r in zip(mid, rows)]]
        ax.errorbar(ns, mid, yerr=err, fmt="o-", markersize=3, capsize=2, label=name)
    ax.axhline(1.0, color="grey", linestyle=":", label=REFERENCE)
    ax.set_xscale("log")
    ax.set(xlabel="sequence length n", ylabel="time / reference attention", title="cost ratio (median, IQR)")
    ax.legend(fontsize=7)


def plot_sweep(axes, rows: list[dict], chance: float):
    """Accuracy (mean, 95% CI over seeds) against hops; one panel per layer count."""
    from spark_edu.plots import COLORS

    for ax, n_layers in zip(axes, sorted({r["layers"] for r in rows})):
        for kind, offset in (("standard", -0.06), ("fk", 0.06)):
            sel = [r for r in rows if r["layers"] == n_layers and r["kind"] == kind]
            xs = [r["hops"] + offset for r in sel]
            ys = [r["mean"] for r in sel]
            err = [[r["mean"] - r["low"] for r in sel], [r["high"] - r["mean"] for r in sel]]
            ax.errorbar(xs, ys, yerr=err, fmt="o-", capsize=3, color=COLORS[kind], label=kind)
        ax.axhline(chance, color="grey", linestyle=":", label="chance")
        ax.set(
            title=f"{n_layers} layer{'s' if n_layers > 1 else ''}",
            xlabel="hops k",
            ylabel="test accuracy",
            ylim=(0, 1.05),
            xticks=sorted({r["hops"] for r in rows}),
        )
        ax.legend(fontsize=8)


def plot_study_curves(ax, cell: dict, chance: float):
    """Held-out accuracy against step for every reported run of a study cell, one colour per variant."""
    from spark_edu.chapters.fk_attention.study import curves

    for i, variant in enumerate(cell["best_lr"]):
        color = f"C{i}"
        for j, (steps, accs) in enumerate(curves(cell, variant)):
            ax.plot(steps, accs, color=color, alpha=0.8, linewidth=1, label=variant if j == 0 else None)
    c, s = cell["cell"], cell["setting"]
    ax.axhline(s["target"], color="black", linestyle="--", linewidth=0.8, label=f"target {s['target']}")
    ax.axhline(chance, color="grey", linestyle=":", label="chance")
    ax.set(
        title=f"{c['task']}, {c['hops']} hop(s), {c['layers']} layer(s)",
        xlabel="training step",
        ylabel="held-out accuracy",
        ylim=(0, 1.02),
        xlim=(0, s["max_steps"]),
    )
    ax.legend(fontsize=6, loc="lower right")


def plot_study_steps(ax, cell: dict):
    """Steps to target per variant (mean, 95% CI over seeds); hollow markers where a seed never reached it."""
    from spark_edu.chapters.fk_attention.study import summarize

    rows = summarize(cell)
    for i, r in enumerate(rows):
        err = [[r["steps_mean"] - r["steps_low"]], [r["steps_high"] - r["steps_mean"]]]
        full = r["reached"] == r["seeds"]
        ax.errorbar([i], [r["steps_mean"]], yerr=err, fmt="o", capsize=3, color=f"C{i}", mfc=None if full else "white")
    ax.axhline(cell["setting"]["max_steps"], color="grey", linestyle=":", label="budget (censored runs)")
    ax.set_xticks(range(len(rows)), [r["variant"] for r in rows], rotation=60, ha="right", fontsize=7)
    ax.set(ylabel="steps to target", title="steps to target (hollow: censored)", ylim=(0, None))
    ax.legend(fontsize=7)
