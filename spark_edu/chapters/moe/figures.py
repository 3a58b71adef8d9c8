"""The MoE chapter's figures and widget: expert load over training, the category × expert
routing matrix, and ``render`` (one small training run per setting, cached)."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from spark_edu.chapters.moe.experiments import RunConfig, RunResult, moe_config, run
from spark_edu.plots import message_figure, plot_matrix, subplots
from spark_edu.tasks.token_categories import CATEGORIES


def plot_load_history(ax, history: torch.Tensor, title: str = "", window: int = 10):
    """Each expert's load fraction over training steps (moving average over ``window`` steps)."""
    steps, E = history.shape
    kernel = torch.ones(1, 1, window, dtype=history.dtype) / window
    smooth = F.conv1d(history.t()[:, None], kernel).squeeze(1)  # (E, steps - window + 1)
    for e in range(E):
        ax.plot(range(window, steps + 1), smooth[e].numpy(), lw=1, label=f"expert {e}")
    ax.axhline(1 / E, color="k", ls="--", lw=1, label="1/E")
    ax.set(
        title=title,
        xlabel="training step",
        ylabel="load fraction $f_e$",
        ylim=(0, max(0.5, float(smooth.max()) * 1.05)),
    )


def plot_routing_matrix(ax, matrix: torch.Tensor, title: str = "", colorbar: bool = True):
    """Category × expert heat map: share of each category's gate mass on each expert."""
    share = matrix / matrix.sum(dim=1, keepdim=True).clamp_min(1e-12)  # (C, E) rows sum to 1
    plot_matrix(ax, share, title, vmin=0, vmax=1, xlabel="expert", ylabel="", colorbar=colorbar)
    ax.set_yticks(range(len(CATEGORIES)), CATEGORIES, fontsize=8)
    ax.set_xticks(range(matrix.shape[1]))


@functools.lru_cache(maxsize=32)
def _cached_run(k, n_experts, alpha, noise, capacity_factor, steps, seed) -> RunResult:
    moe = moe_config(
        n_experts=n_experts,
        k=k,
        balance_alpha=alpha,
        noise=noise,
        capacity_factor=capacity_factor or None,
        renormalize=k > 1,
    )
    return run(RunConfig(moe=moe, steps=steps, seed=seed))


def render(
    k: int = 2,
    n_experts: int = 8,
    alpha: float = 0.01,
    noise: float = 0.0,
    capacity_factor: float = 0.0,
    steps: int = 300,
    seed: int = 0,
):
    """Train one small MoE and draw its load over training and its routing matrix.

    ``capacity_factor=0`` means no capacity limit. With k = 1 the gates are not renormalised
    (a renormalised top-1 gate is always 1, so the router would get no gradient). A ``k``
    above ``n_experts`` (the two sliders move independently) shows a one-line message.
    """
    if k > n_experts:
        return message_figure(f"top-{k} routing needs at least {k} experts: lower top-k to {n_experts} or below")
    result = _cached_run(k, n_experts, float(alpha), float(noise), float(capacity_factor), steps, seed)
    m = result.metrics
    fig, axes = subplots(1, 2, width=3.8, height=2.8)
    plot_load_history(axes[0, 0], result.load_history, "expert load while training")
    plot_routing_matrix(axes[0, 1], result.matrix, "routing (held-out tokens)")
    fig.suptitle(
        f"top-{k} of {n_experts}, α={alpha:g}, noise={noise:g}, capacity={capacity_factor or '∞'}:\n"
        f"1−CV² {m['balance_cv']:.2f}, entropy {m['balance_entropy']:.2f}, specialisation "
        f"{m['specialisation']:.2f}, dropped {m['dropped']:.0%}, accuracy {m['accuracy']:.2f}",
        fontsize=9,
    )
    return fig


def plot_router_loads(result: dict):
    """One panel per method of the saved router comparison: each expert's load over training
    (seed 0, the chosen learning rate, means over blocks of 10 steps) and the fair share 1/E."""
    methods = result["methods"]
    rows = (len(methods) + 1) // 2  # two panels per row: the page is 688 px wide
    fig, axes = subplots(rows, 2, width=3.1, height=2.1, sharey=True)
    for ax in axes.flat[len(methods) :]:
        ax.set_visible(False)
    for ax, (name, m) in zip(axes.flat, methods.items()):
        load = torch.tensor(m["load_history_seed0"])  # (steps / 10, E)
        steps = 10 * torch.arange(1, load.shape[0] + 1)
        for e in range(load.shape[1]):
            ax.plot(steps.numpy(), load[:, e].numpy(), lw=1)
        ax.axhline(1 / load.shape[1], color="k", ls="--", lw=1)
        ax.set(title=f"{name} (lr {m['lr']:g})", xlabel="training step")
    for ax in axes[:, 0]:
        ax.set_ylabel("load fraction $f_e$ (routed)")
    return fig
