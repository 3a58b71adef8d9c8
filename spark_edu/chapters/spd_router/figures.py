"""Figures of the SPD router chapter and the widget's ``render``.

:func:`plot_sweep` draws the noise sweep of :mod:`~spark_edu.chapters.spd_router.experiments`;
:func:`plot_conditions` the non-stationary runs of :mod:`~spark_edu.chapters.spd_router.nonstationary`;
:func:`render` trains (once per setting, cached) a learned-basis router for 300 steps and shows how it splits
one held-out signal, beside the LMMSE and the Wiener shrinkage.
"""

from __future__ import annotations

import torch

from spark_edu.chapters.spd_router.experiments import (
    LMMSE_NAME,
    METHODS,
    ROUTERS,
    SweepConfig,
    router_estimate,
    summarize,
    trained_router,
    training_lmmse,
)
from spark_edu.chapters.spd_router.nonstationary import CONDITIONS
from spark_edu.chapters.spd_router.nonstationary import METHODS as CONDITION_METHODS
from spark_edu.measure import mean_interval
from spark_edu.plots import subplots
from spark_edu.spd import SPDRouter, snr_improvement_db
from spark_edu.spd.baselines import dct_denoise
from spark_edu.tasks.signals import sinusoid_mixture


def plot_sweep(records: list[dict], axes=None):
    """SNR gain and ρ against noise level for every method (error bars: 95% interval over seeds)."""
    if axes is None:
        fig, grid = subplots(1, 2, width=3.6, height=3.2)
        axes = grid[0]
    for metric, ax, label in (
        ("snr_improvement", axes[0], "SNR improvement (dB)"),
        ("correlation", axes[1], "structure correlation ρ"),
    ):
        summary = summarize(records, metric)
        levels = sorted({r["noise"] for r in records})
        for m in METHODS:
            if (m, levels[0]) not in summary:
                continue
            mean = [summary[(m, lv)][0] for lv in levels]
            err = [
                [mean[i] - summary[(m, lv)][1] for i, lv in enumerate(levels)],
                [summary[(m, lv)][2] - mean[i] for i, lv in enumerate(levels)],
            ]
            style = "-" if m in ROUTERS else "--"
            extra = {"color": "k", "lw": 2} if m == LMMSE_NAME else {}
            ax.errorbar(levels, mean, yerr=err, marker="o", linestyle=style, capsize=2, label=m, markersize=4, **extra)
        ax.set(xlabel="noise level σ", ylabel=label)
    return axes[0].figure


def plot_conditions(records: list[dict], axes=None):
    """Mean ΔSNR of every method on each non-stationary condition, with 95% intervals over seeds."""
    if axes is None:
        fig, grid = subplots(1, len(CONDITIONS), width=3.6, height=3.0, sharex=True)
        axes = grid[0]
    for ax, condition in zip(axes, CONDITIONS):
        rows = [r for r in records if r["condition"] == condition]
        methods = [m for m in CONDITION_METHODS if any(r["method"] == m for r in rows)]
        stats = [mean_interval([r["snr_improvement"] for r in rows if r["method"] == m]) for m in methods]
        y = range(len(methods))
        colors = ["C0" if m in ROUTERS else "k" if m.startswith(("LMMSE", "oracle")) else "C7" for m in methods]
        ax.barh(y, [s[0] for s in stats], color=colors, alpha=0.75)
        ax.errorbar([s[0] for s in stats], y, xerr=[[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]],
                    fmt="none", ecolor="k", capsize=2)  # fmt: skip
        ax.set_yticks(list(y), methods if ax is axes[0] else [""] * len(methods), fontsize=7)
        ax.invert_yaxis()
        ax.set(title=condition, xlabel="ΔSNR (dB)")
    return axes[0].figure


def _cached_router(noise_level: float, n_components: int, strength: float) -> SPDRouter:
    config = SweepConfig(n_components=n_components, separation_strength=strength)
    return trained_router(noise_level, 0, "learned", config)


def render(noise_level: float = 0.5, n_components: int = 3, strength: float = 0.05, example: int = 0):
    """Clean, noisy, recovered structured part and residual for one held-out signal."""
    router = _cached_router(round(noise_level, 3), n_components, round(strength, 4))
    test = sinusoid_mixture(example + 1, 64, n_components, noise_level, torch.Generator().manual_seed(123))
    clean, noisy = test.clean[example : example + 1], test.noisy[example : example + 1]  # (1, N)
    structured = router_estimate(router, noisy)  # (1, N)
    wiener = dct_denoise(noisy, "wiener")  # (1, N)
    lmmse = training_lmmse(SweepConfig(n_components=n_components)).estimate(noisy, noise_level**2)  # (1, N)
    gain = snr_improvement_db(clean, noisy, structured).item()
    gain_w = snr_improvement_db(clean, noisy, wiener).item()
    gain_l = snr_improvement_db(clean, noisy, lmmse).item()
    fig, axes = subplots(1, 3, width=2.45, height=3.1, sharey=True)
    t = range(clean.shape[-1])
    panels = [
        ("input: noisy, clean", [(noisy, "C7", "noisy"), (clean, "k", "clean")]),
        (
            "structured part",
            [
                (structured, "C0", f"router {gain:+.1f} dB"),
                (lmmse, "C2", f"LMMSE {gain_l:+.1f} dB"),
                (wiener, "C3", f"Wiener σ̂ {gain_w:+.1f} dB"),
                (clean, "k", "clean"),
            ],
        ),
        ("residual x − structured", [(noisy - structured, "C1", "residual"), (noisy - clean, "C7", "true noise")]),
    ]
    for ax, (title, lines) in zip(axes[0], panels):
        for signal, color, label in lines:
            ax.plot(
                t,
                signal[0].numpy(),
                color=color,
                lw=1.2 if label != "clean" else 0.8,
                label=label,
                alpha=0.5 if label in ("clean", "true noise") and len(lines) > 1 else 1.0,
            )
        ax.set(title=title, xlabel="t")
        if len(lines) > 1:
            ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.3))  # below the axes: no line hidden
    fig.suptitle(f"σ = {noise_level:.2f}, {n_components} components, separation strength λ = {strength:g}", fontsize=10)
    return fig
