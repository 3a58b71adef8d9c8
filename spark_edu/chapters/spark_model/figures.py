"""The SPaR-K chapter's figures: the convergence study's learning curves and the widget's ``render``."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from spark_edu.chapters.spark_model.analysis import by_label, mean_curve, superseded
from spark_edu.chapters.spark_model.convergence import CONFIGS, load_study
from spark_edu.chapters.spark_model.training import (
    RunConfig,
    datasets,
    fast_cpu_training,
    label,
    next_token_loss,
    train_config,
)
from spark_edu.measure import time_it
from spark_edu.model import COMPONENTS, SPD_WIRINGS, build, preset
from spark_edu.plots import COLORS, message_figure, subplot_mosaic, subplots
from spark_edu.train import make_optimizer

if TYPE_CHECKING:
    from matplotlib.figure import Figure


#: The panels of :func:`plot_convergence`: which configurations share an axis.
PANELS = {
    "FK and the SPD router's wirings": ("none", "FK", "SPD", "SPD(res)", "SPD(res+LN)"),
    "FK × SPD": ("none", "FK+SPD", "FK+SPD(res)"),
    "with the verifier head": (
        "verifier",
        "FK+verifier",
        "SPD+verifier",
        "SPD(res)+verifier",
        "FK+SPD+verifier",
        "FK+SPD(res)+verifier",
    ),
}
_PALETTE = ["#4c72b0", "#55a868", "#c44e52", "#dd8452", "#8172b3", "#937860"]


def plot_convergence(study: dict, axes=None) -> Figure:
    """Held-out accuracy on the predictable part vs step, each configuration at its chosen rate:
    the mean over seeds (line) and the lowest to highest seed (band); dashed, the runs kept at a
    rate the first selection rule chose."""
    runs, kept = by_label(study), superseded(study)
    if axes is None:
        rows = (len(PANELS) + 1) // 2  # two panels per row: the page is 688 px wide
        fig, grid = subplots(rows, 2, width=3.6, height=3.0, sharey=True)
        for ax in grid.flat[len(PANELS) :]:
            ax.set_visible(False)
        axes = list(grid.flat)
    for ax, (title, names) in zip(axes, PANELS.items()):
        lines = [(n, runs[n], "-", "") for n in names if n in runs]
        lines += [(n, [r for r in kept if r["label"] == n], "--", ", first rule") for n in names]
        for i, (name, group, style, note) in enumerate(line for line in lines if line[1]):
            steps, mean, low, high = mean_curve(group)
            color = COLORS["standard"] if name == "none" else _PALETTE[1 + i % (len(_PALETTE) - 1)]
            ax.plot(steps, mean, style, color=color, lw=1.4, label=f"{name} (lr {group[0]['lr']:g}{note})")
            ax.fill_between(steps, low, high, color=color, alpha=0.18, lw=0)
        ax.axhline(0.9, color="grey", ls=":", lw=0.8, label="_0.9")
        ax.set(title=title, xlabel="training step", ylim=(0, 1.02))
        if ax.lines[1:]:
            ax.legend(fontsize=7.5, loc="best")  # the long study's curves fill the upper left
        else:
            ax.text(0.5, 0.5, "not trained in the saved study", ha="center", fontsize=8, transform=ax.transAxes)
    for ax in axes[: len(PANELS)]:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("held-out accuracy, predictable part")
    return axes[0].figure


def _chosen(fk: bool, spd: bool, verifier: bool, wiring: str):
    components = [c for c, on in zip(COMPONENTS, (fk, spd, verifier)) if on]
    return preset("original", components=tuple(components), spd_wiring=wiring if spd else "replace")


@cache
def step_ms(name: str, repeats: int = 3) -> float:
    """Median time (ms) of one training step of configuration ``name`` of the study, timed now:
    the original's batch of 8, the chapter's AdamW, one thread; cached, so a page times each once."""
    model = build(CONFIGS[name], 0)
    train_set, _ = datasets(0, RunConfig(n_test=1))
    x, y = train_set.inputs[:8], train_set.targets[:8]
    opt = make_optimizer(model, train_config(RunConfig(), 0))

    def step():
        loss = next_token_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    with fast_cpu_training():
        return time_it(step, repeats=repeats, warmup=1).median_ms


def render(
    fk: bool = True,
    spd: bool = True,
    verifier: bool = True,
    wiring: str = "replace",
    study: dict | None = None,
) -> Figure:
    """Widget view of one configuration: parameters, time per training step, learning curve.

    Parameters are counted and steps timed now (:func:`step_ms`, every configuration of the
    study, so the bars compare like with like); the held-out accuracy curve (mean and seed band,
    the standard model's in grey) comes from the saved study, as training takes minutes per seed.
    """
    if wiring not in SPD_WIRINGS:
        raise ValueError(f"wiring must be one of {SPD_WIRINGS}, got {wiring!r}")
    study = load_study() if study is None else study
    name = label(_chosen(fk, spd, verifier, wiring))
    runs = by_label(study) if study else {}
    if name not in runs:
        return message_figure(f"{name}: not trained in the saved convergence study")
    names = list(runs)
    fig, axes = subplot_mosaic([["params", "ms", "accuracy"]], width=2.45, height=2.8)
    colors = [COLORS["verifier"] if n == name else "lightgrey" for n in names]
    params = [runs[n][0]["parameters"] / 1e3 for n in names]
    axes["params"].barh(range(len(names)), params, color=colors)
    axes["params"].set(title=f"parameters: {runs[name][0]['parameters']:,}", xlabel="thousands")
    axes["params"].set_yticks(range(len(names)), names, fontsize=7.5)
    axes["params"].invert_yaxis()
    times = [step_ms(n) for n in names]
    axes["ms"].barh(range(len(names)), times, color=colors)
    axes["ms"].set(title=f"ms per step: {times[names.index(name)]:.0f}", xlabel="timed now, one thread")
    axes["ms"].set_yticks(range(len(names)), [""] * len(names))
    axes["ms"].invert_yaxis()
    ax = axes["accuracy"]
    for n, color in (("none", "grey"), (name, COLORS["verifier"])):
        steps, mean, low, high = mean_curve(runs[n])
        ax.plot(steps, mean, color=color, label=f"{n} (lr {study['best_lr'][n]:g})")
        ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)
    ax.set(title="held-out accuracy (saved)", xlabel="step", ylim=(0, 1.02))
    ax.legend(fontsize=7, loc="upper left")
    return fig


#: The static twin draws one figure per configuration: without the router its wiring is moot.
render.same_figure = lambda fk, spd, verifier, wiring: label(_chosen(fk, spd, verifier, wiring))
