"""Figures of the SPD router chapter and the widget's ``render``.

:func:`plot_sweep` draws the noise sweep of :mod:`~spark_edu.chapters.spd_router.experiments`;
:func:`render` trains (once per setting, cached) a learned-basis router and shows how it splits
one held-out signal, beside the Wiener shrinkage.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from spark_edu.chapters.spd_router.experiments import (
    METHODS,
    ROUTERS,
    SweepConfig,
    router_estimate,
    summarize,
    train_router,
)
from spark_edu.plots import subplots
from spark_edu.spd import SPDRouter, snr_improvement_db
from spark_edu.spd.baselines import dct_denoise
from spark_edu.tasks.signals import sinusoid_mixture


def plot_sweep(records: list[dict], axes=None):
    """SNR gain and ρ against noise level for every method (error bars: min–max over seeds)."""
    if axes is None:
        fig, grid = subplots(1, 2, width=4.2, height=3.2)
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
            ax.errorbar(levels, mean, yerr=err, marker="o", linestyle=style, capsize=2, label=m, markersize=4)
        ax.set(xlabel="noise level σ", ylabel=label)
    return axes[0].figure


@lru_cache(maxsize=32)
def _cached_router(noise_level: float, n_components: int, strength: float) -> SPDRouter:
    config = SweepConfig(n_components=n_components, separation_strength=strength, steps=200)
    return train_router(noise_level, 0, "learned", config)


def render(noise_level: float = 0.5, n_components: int = 3, strength: float = 0.05, example: int = 0):
    """Clean, noisy, recovered structured part and residual for one held-out signal."""
    router = _cached_router(round(noise_level, 3), n_components, round(strength, 4))
    test = sinusoid_mixture(example + 1, 64, n_components, noise_level, torch.Generator().manual_seed(123))
    clean, noisy = test.clean[example : example + 1], test.noisy[example : example + 1]  # (1, N)
    structured = router_estimate(router, noisy)  # (1, N)
    wiener = dct_denoise(noisy, "wiener")  # (1, N)
    gain = snr_improvement_db(clean, noisy, structured).item()
    gain_w = snr_improvement_db(clean, noisy, wiener).item()
    fig, axes = subplots(1, 4, width=2.6, height=2.6, sharey=True)
    t = range(clean.shape[-1])
    panels = [
        ("clean signal", [(clean, "k", "clean")]),
        ("noisy input", [(noisy, "C7", "noisy")]),
        (
            "structured part",
            [
                (structured, "C0", f"router {gain:+.1f} dB"),
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
            ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"σ = {noise_level:.2f}, {n_components} components, separation strength λ = {strength:g}", fontsize=10)
    return fig
