"""The SPaR-K chapter's figures: training curves, the ablation bars and the widget's ``render``."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

import torch

from spark_edu.chapters.spark_model.experiments import summarize
from spark_edu.chapters.spark_model.runs import STANDARD, ablation_configs, load_results
from spark_edu.chapters.spark_model.training import RunConfig, datasets, fast_cpu_training, label, next_token_loss
from spark_edu.measure import time_it
from spark_edu.model import COMPONENTS, SparkTransformer, build, preset
from spark_edu.plots import COLORS, subplots

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _moving_average(values: list[float], window: int = 25) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def _by_label(records: list[dict], name: str) -> list[dict]:
    return [r for r in records if r["label"] == name]


def plot_training(records: list[dict], names=("FK+SPD+verifier", "SPD", STANDARD)) -> Figure:
    """Training loss, held-out accuracy on the predictable part, gradient norms and the FK bound."""
    fig, axes = subplots(1, 4, width=3.1, height=2.8)
    palette = [COLORS["fk"], COLORS["sparse"], COLORS["baseline"], COLORS["verifier"]]
    colors = {n: palette[i % len(palette)] for i, n in enumerate(names[:-1])} | {names[-1]: COLORS["standard"]}
    for name in names:
        runs = _by_label(records, name)
        if not runs:
            continue
        c = colors.get(name, None)
        steps = range(len(runs[0]["losses"]))
        mean_loss = [statistics.fmean(v) for v in zip(*(_moving_average(r["losses"]) for r in runs))]
        axes[0, 0].plot(steps, mean_loss, color=c, label=name)
        xs = [p["step"] for p in runs[0]["curve"]]
        accs = [[r["curve"][i]["acc_predictable"] for r in runs] for i in range(len(xs))]
        m = [statistics.fmean(a) for a in accs]
        axes[0, 1].plot(xs, m, "o-", color=c, ms=3)
        axes[0, 1].fill_between(xs, [min(a) for a in accs], [max(a) for a in accs], color=c, alpha=0.2)
        for r in runs:
            axes[0, 2].plot(steps, r["grad_norms"], color=c, lw=0.6, alpha=0.7)
        if runs[0]["fk_bounds"]:
            bx = [b["step"] for b in runs[0]["fk_bounds"]]
            axes[0, 3].semilogy(
                bx,
                [max(r["fk_bounds"][i]["bound"] for r in runs) for i in range(len(bx))],
                "--",
                color="k",
                label="bound (eq-fk-bound)",
            )
            axes[0, 3].semilogy(
                bx,
                [max(r["fk_bounds"][i]["error"] for r in runs) for i in range(len(bx))],
                "o-",
                color=c,
                ms=3,
                label="measured",
            )
    axes[0, 0].set(title="training loss (moving avg.)", xlabel="step", ylabel="cross-entropy")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].set(title="held-out accuracy,\nsecond halves of palindromes", xlabel="step", ylim=(0, 1.02))
    axes[0, 2].axhline(1.0, color="grey", ls=":", lw=1)
    axes[0, 2].set(title="gradient norm before clipping", xlabel="step", yscale="log")
    axes[0, 3].set(title="FK: 5-term series error / max|V|", xlabel="step")
    axes[0, 3].legend(fontsize=7)
    return fig


def plot_ablation(records: list[dict], ax=None) -> Figure:
    """Held-out accuracy on the predictable part per configuration: mean and 95% interval over seeds."""
    if ax is None:
        fig, axes = subplots(1, 1, width=7.0, height=3.0)
        ax = axes[0, 0]
    summary = summarize(records)
    names = list(summary)
    means = [summary[n][0] for n in names]
    errs = [[summary[n][0] - summary[n][1] for n in names], [summary[n][2] - summary[n][0] for n in names]]
    colors = [COLORS["standard"] if n in ("none", STANDARD) else COLORS["fk"] for n in names]
    ax.bar(range(len(names)), means, yerr=errs, color=colors, capsize=3)
    for r in records:
        ax.plot(names.index(r["label"]), r["final"]["acc_predictable"], "k.", ms=3)
    ax.set_xticks(range(len(names)), [n.replace("+", "+\n").replace(" (", "\n(") for n in names], fontsize=7)
    ax.set(ylabel="accuracy", ylim=(0, 1.02), title="accuracy on the predictable part (mean, 95% interval, seeds)")
    return ax.figure


def render(
    fk: bool = True, spd: bool = True, verifier: bool = True, results: dict | None = None, live_steps: int = 3
) -> Figure:
    """Widget view: parameters, time per training step and accuracy of the chosen on/off setting.

    Parameters are counted live. Time per step is timed live for the chosen setting (median
    of ``live_steps`` steps at the original's batch, one thread) beside the times saved by the
    full run (one thread per worker, monitoring evaluations included);
    accuracy comes from the saved results (training each setting takes minutes).
    """
    results = load_results() if results is None else results
    chosen = preset("original").with_components(*[c for c, on in zip(COMPONENTS, (fk, spd, verifier)) if on])
    configs = {n: c for n, c in ablation_configs(preset("original")).items() if n != STANDARD}
    name = label(chosen)
    model = build(chosen, 0)
    train_set, _ = datasets(0, RunConfig(n_test=1))
    x, y = train_set.inputs[:8], train_set.targets[:8]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        loss = next_token_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    with fast_cpu_training():
        live_ms = time_it(step, repeats=live_steps, warmup=1).median_ms
    names = list(configs)
    params = [sum(p.numel() for p in SparkTransformer(c).parameters()) for c in configs.values()]
    records = results["records"] if results else []
    saved_ms = {
        n: 1e3 * statistics.fmean(r["seconds_per_step"] for r in _by_label(records, n))
        for n in names
        if _by_label(records, n)
    }
    summary = summarize(records) if records else {}
    fig, axes = subplots(1, 3, width=3.2, height=3.0)
    colors = [COLORS["verifier"] if n == name else "lightgrey" for n in names]
    ticks = [n.replace("+", "+\n") for n in names]
    axes[0, 0].barh(range(len(names)), [p / 1e3 for p in params], color=colors)
    axes[0, 0].set(title=f"parameters: {params[names.index(name)]:,}", xlabel="thousands")
    axes[0, 0].set_yticks(range(len(names)), ticks, fontsize=7)
    axes[0, 1].barh(range(len(names)), [saved_ms.get(n, 0) for n in names], color=colors)
    axes[0, 1].plot([live_ms], [names.index(name)], "kD", label="timed now")
    axes[0, 1].set(title=f"ms per step (now: {live_ms:.0f})", xlabel="saved full run / now")
    axes[0, 1].set_yticks(range(len(names)), [""] * len(names))
    axes[0, 1].legend(fontsize=7, loc="upper right")
    if summary:
        m = [summary.get(n, (0, 0, 0)) for n in names]
        axes[0, 2].barh(
            range(len(names)),
            [v[0] for v in m],
            color=colors,
            xerr=[[v[0] - v[1] for v in m], [v[2] - v[0] for v in m]],
            capsize=2,
        )
        axes[0, 2].set(title=f"accuracy (saved): {summary[name][0]:.2f}", xlim=(0, 1))
    else:
        axes[0, 2].text(0.5, 0.5, "no saved results", ha="center", transform=axes[0, 2].transAxes)
    axes[0, 2].set_yticks(range(len(names)), [""] * len(names))
    return fig
