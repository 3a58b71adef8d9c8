"""Non-stationary conditions: where an input-adaptive router could beat every fixed linear filter.

On the stationary task one linear filter, the LMMSE of eq-spd-lmmse, is the best linear answer,
and the router can only add what a nonlinear estimator adds for these signals. Here each signal
draws its own condition (:mod:`spark_edu.tasks.mixed_signals`), unknown to the filters:

* ``"noise varies"`` — σ log-uniform in [0.1, 1.0] (the report's range and beyond), band 1–8 cycles;
* ``"band varies"``  — each signal in 1–4 or in 12–20 cycles per window, σ = 0.5.

The fair linear opponent is the LMMSE fitted on the same mixed training distribution: the clean
signals' mean and covariance, and the mean noise variance ``E[σ²]`` measured on the training pairs
(for independent noise, ``W = C (C + E[σ²] I)⁻¹`` is the best fixed linear filter for the
mixture). The upper reference is an *oracle* LMMSE told each signal's condition (its σ, or its
band's covariance). :func:`condition_run` trains both routers per seed and scores every method by
the mean per-signal ΔSNR (eq-spd-snr), by the pooled MSE gain ``10 log10(Σ‖x − s‖² / Σ‖ŝ − s‖²)``
(the quantity the LMMSE optimises), and per condition group. :func:`out_of_distribution` tests
one router trained on the stationary task where its training data did not go.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from spark_edu.chapters.spd_router.experiments import (
    BASIS_OF,
    DIAGONAL_NAME,
    LMMSE_NAME,
    ROUTERS,
    SweepConfig,
    fit_router,
    mse_gain_db,
    router_estimate,
    trained_router,
    training_lmmse,
)
from spark_edu.display import Table
from spark_edu.measure import mean_interval
from spark_edu.spd import snr_improvement_db
from spark_edu.spd.baselines import dct_denoise, prior_spectrum
from spark_edu.spd.lmmse import LMMSE
from spark_edu.tasks.mixed_signals import MixedBatch, varying_band, varying_noise
from spark_edu.tasks.signals import sinusoid_mixture

CONDITIONS = ("noise varies", "band varies")
NOISE_RANGE = (0.1, 1.0)  # σ of "noise varies", log-uniform
BANDS = ((1.0, 4.0), (12.0, 20.0))  # cycles per window of "band varies"
BAND_NOISE = 0.5  # σ of "band varies"
MIXED_NAME = "LMMSE, fitted on the mixture"
ORACLE_NAME = "oracle LMMSE (told the condition)"
#: The classical estimators that adapt to each signal (:mod:`~spark_edu.chapters.spd_router.adaptive`), per condition.
ADAPTIVE_NAMES = {"noise varies": "adaptive LMMSE, σ̂ per signal", "band varies": "adaptive LMMSE, band detected"}
ENERGY_SUFFIX = " + energy projection"  # the same estimate moved onto the clean signals' sphere (adaptive.py)
LINEAR = (
    MIXED_NAME,
    *ADAPTIVE_NAMES.values(),
    ORACLE_NAME,
    ORACLE_NAME + ENERGY_SUFFIX,
    DIAGONAL_NAME + ", mixture",
    "Wiener shrinkage, σ̂",
    "hard threshold, σ̂",
)
METHODS = ROUTERS + LINEAR


def condition_batch(condition: str, n_signals: int, generator: torch.Generator, config: SweepConfig) -> MixedBatch:
    """``n_signals`` signals of ``condition`` (one of :data:`CONDITIONS`)."""
    if condition == "noise varies":
        return varying_noise(n_signals, config.length, config.n_components, NOISE_RANGE, generator, config.cycles)
    if condition == "band varies":
        return varying_band(n_signals, config.length, config.n_components, BAND_NOISE, BANDS, generator)
    raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")


def held_out_signals(condition: str, seed: int, config: SweepConfig) -> MixedBatch:
    """The held-out signals of ``seed`` (generator seed 10 000 + seed), disjoint from :func:`training_set`'s."""
    return condition_batch(condition, config.test_signals, torch.Generator().manual_seed(10_000 + seed), config)


def groups(condition: str, batch: MixedBatch) -> dict[str, torch.Tensor]:
    """Boolean masks (B,) splitting a batch by its condition: σ thirds, or the two bands."""
    if condition == "noise varies":
        return {
            "σ < 0.2": batch.sigma < 0.2,
            "0.2 ≤ σ < 0.5": (batch.sigma >= 0.2) & (batch.sigma < 0.5),
            "σ ≥ 0.5": batch.sigma >= 0.5,
        }
    return {f"band {lo:g}–{hi:g}": batch.band == k for k, (lo, hi) in enumerate(BANDS)}


@lru_cache(maxsize=4)
def training_set(condition: str, config: SweepConfig) -> MixedBatch:
    """8192 training pairs of ``condition`` (generator seed 777, disjoint from every test seed)."""
    return condition_batch(condition, 8192, torch.Generator().manual_seed(777), config)


def linear_estimates(condition: str, test: MixedBatch, config: SweepConfig) -> dict[str, torch.Tensor]:
    """Every fixed filter's estimate, and the oracle's, of the clean test signals."""
    train = training_set(condition, config)
    mixed = LMMSE.fit(train.clean)
    noise_variance = (train.noisy - train.clean).pow(2).mean().item()  # E[σ²] of the training pairs
    if condition == "noise varies":
        oracle = mixed.estimate(test.noisy, test.sigma.to(torch.float64) ** 2)  # C is the same for every σ
    else:
        per_band = [LMMSE.fit(train.clean[train.band == k]).estimate(test.noisy, BAND_NOISE**2) for k in range(2)]
        oracle = torch.where((test.band == 0)[:, None], per_band[0], per_band[1])  # (B, N)
    diagonal = dct_denoise(
        test.noisy, "dct_diagonal_wiener", sigma=noise_variance**0.5, signal_power=prior_spectrum(train.clean)
    )
    return {
        MIXED_NAME: mixed.estimate(test.noisy, noise_variance),
        ORACLE_NAME: oracle,
        DIAGONAL_NAME + ", mixture": diagonal,
        "Wiener shrinkage, σ̂": dct_denoise(test.noisy, "wiener"),
        "hard threshold, σ̂": dct_denoise(test.noisy, "hard"),
    }


def scores(condition: str, test: MixedBatch, estimate: torch.Tensor) -> dict:
    """Mean per-signal ΔSNR, pooled MSE gain (dB), and the mean ΔSNR of each condition group."""
    gain = snr_improvement_db(test.clean, test.noisy, estimate)  # (B,)
    return {
        "snr_improvement": gain.mean().item(),
        "mse_gain": mse_gain_db(test.clean, test.noisy, estimate),
        "by_group": {name: gain[mask].mean().item() for name, mask in groups(condition, test).items()},
    }


def condition_run(condition: str, seeds, config: SweepConfig, lrs: dict | None = None) -> list[dict]:
    """One record per (method, seed): the scores of :func:`scores` on 512 held-out signals
    (generator seed 10 000 + seed). ``lrs`` maps router names to tuned learning rates."""
    lrs = lrs or {}
    records = []
    for seed in seeds:
        test = held_out_signals(condition, seed, config)
        out = linear_estimates(condition, test, config)

        def batches(g):
            return condition_batch(condition, config.batch, g, config)

        for name in ROUTERS:
            router = fit_router(batches, seed, BASIS_OF[name], config, lrs.get(name))
            out[name] = router_estimate(router, test.noisy)
        for method, estimate in out.items():
            records.append(
                {"condition": condition, "method": method, "seed": seed, "lr": lrs.get(method)}
                | scores(condition, test, estimate)
            )
    return records


def paired_gap(records: list[dict], a: str, b: str, metric: str = "snr_improvement") -> tuple[float, float, float]:
    """Mean and 95% interval over seeds of ``metric(a) − metric(b)``, paired by seed."""
    by = {(r["method"], r["seed"]): r[metric] for r in records}
    seeds = sorted({r["seed"] for r in records if r["method"] == a})
    return mean_interval([by[(a, s)] - by[(b, s)] for s in seeds])


def format_conditions(records: list[dict]) -> Table:
    """One row per (condition, method): ΔSNR and pooled MSE gain (mean [95% interval] over seeds),
    then the mean ΔSNR per condition group ('—' for another condition's groups)."""
    conditions = [c for c in CONDITIONS if any(r["condition"] == c for r in records)]
    groups = list(dict.fromkeys(n for r in records for n in r["by_group"]))
    rows = []
    for condition in conditions:
        mine = [r for r in records if r["condition"] == condition]
        for m in [m for m in METHODS if any(r["method"] == m for r in mine)]:
            runs = [r for r in mine if r["method"] == m]
            cells = [mean_interval([r[metric] for r in runs]) for metric in ("snr_improvement", "mse_gain")]
            by_group = [
                mean_interval([r["by_group"][n] for r in runs])[0] if n in runs[0]["by_group"] else None for n in groups
            ]
            rows.append([condition, m, *cells, *by_group])
    columns = ["condition", "method", "ΔSNR dB", "MSE gain dB", *groups]
    caption = "mean [95% interval] over seeds; per group: mean ΔSNR dB"
    return Table(rows, columns, {c: "+.2f" for c in columns[2:]}, caption)


def out_of_distribution(noise_level: float = 0.5, seed: int = 0, config: SweepConfig = SweepConfig()) -> list[dict]:
    """Train the learned-basis router at one setting, then test it (and the LMMSE fitted at that
    setting) where its training data did not go (another noise level, another number of
    components, another frequency band)."""
    router = trained_router(noise_level, seed, "learned", config)
    conditions = [
        ("as trained", noise_level, config.n_components, config.cycles),
        ("lower noise σ = 0.1", 0.1, config.n_components, config.cycles),
        ("one component", noise_level, 1, config.cycles),
        ("six components", noise_level, 6, config.cycles),
        ("band 10–20 cycles", noise_level, config.n_components, (10.0, 20.0)),
    ]
    rows = []
    for name, level, components, cycles in conditions:
        test = sinusoid_mixture(
            config.test_signals, config.length, components, level, torch.Generator().manual_seed(20_000 + seed), cycles
        )
        gains = {
            "router": router_estimate(router, test.noisy),
            LMMSE_NAME: training_lmmse(config).estimate(test.noisy, noise_level**2),
            "Wiener shrinkage, σ̂": dct_denoise(test.noisy, "wiener"),
            "hard threshold, σ̂": dct_denoise(test.noisy, "hard"),
        }
        rows.append(
            {
                "condition": name,
                **{k: snr_improvement_db(test.clean, test.noisy, v).mean().item() for k, v in gains.items()},
            }
        )
    return rows
