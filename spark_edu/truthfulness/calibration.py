"""Temperature scaling (Guo, Pleiss, Sun & Weinberger, 2017, *On Calibration of Modern Neural
Networks*, ICML): one scalar T > 0 divides every logit,

    p_T = σ(logit(p) / T),
    T* = argmin_T  −(1/N) Σ_i [y_i ln p_T,i + (1 − y_i) ln(1 − p_T,i)]          (eq-truth-temperature)

T > 1 softens over-confident probabilities, T < 1 sharpens under-confident ones; the ranking,
and so the AUC and the accuracy at τ = ½, never change. The negative log-likelihood is convex
in 1/T, so a golden-section search over ln T finds the minimum; a test checks it against
scipy's bounded scalar minimiser.

T must be fitted on statements it is not judged on. :func:`cross_fit_temperature` splits the
held-out probabilities into folds, fits T on all but one fold and applies it to that fold,
so every calibrated probability comes from a T that never saw its statement; the expected
calibration error (eq-truth-ece, :func:`~spark_edu.truthfulness.metrics.expected_calibration_error`)
is then compared before and after.
"""

from __future__ import annotations

import math

import torch

from spark_edu.truthfulness.metrics import _ece, check_labels, resample_rows
from spark_edu.validation import check_positive_int

#: clip probabilities away from 0 and 1 before taking logits (a hard 0/1 has an infinite logit)
EPS = 1e-6


def _logits(probs: torch.Tensor) -> torch.Tensor:
    p = probs.double().clamp(EPS, 1 - EPS)
    return torch.log(p) - torch.log1p(-p)


def _check_probs(labels, probs) -> tuple[torch.Tensor, torch.Tensor]:
    y, p = check_labels(labels, probs, "probs")
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError("probs must lie in [0, 1]")
    return y, p


def nll(labels, logits: torch.Tensor, temperature: float) -> float:
    """Mean binary negative log-likelihood of σ(logits / T) (eq-truth-temperature)."""
    z = torch.as_tensor(logits).double() / temperature
    y = torch.as_tensor(labels).double()
    return float(torch.nn.functional.binary_cross_entropy_with_logits(z, y))


def fit_temperature(labels, probs, low: float = 0.05, high: float = 20.0, iters: int = 80) -> float:
    """T* of eq-truth-temperature by golden-section search over ln T in [ln low, ln high]."""
    y, p = _check_probs(labels, probs)
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low}, high={high}")
    check_positive_int("iters", iters)
    z = _logits(p)
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(y, z, math.exp(c)), nll(y, z, math.exp(d))
    for _ in range(iters):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(y, z, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(y, z, math.exp(d))
    return math.exp((a + b) / 2)


def apply_temperature(probs, temperature: float) -> torch.Tensor:
    """σ(logit(p) / T)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return torch.sigmoid(_logits(torch.as_tensor(probs)) / temperature)


def cross_fit_temperature(labels, probs, n_folds: int = 5, seed: int = 0) -> tuple[torch.Tensor, list[float]]:
    """(calibrated probabilities (N,), the T fitted for each fold): T of fold k is fitted on the other folds."""
    y, p = _check_probs(labels, probs)
    check_positive_int("n_folds", n_folds, minimum=2)
    if n_folds > len(y):
        raise ValueError(f"n_folds must be <= the number of statements ({len(y)}), got {n_folds}")
    fold = torch.empty(len(y), dtype=torch.long)
    fold[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))] = torch.arange(len(y)) % n_folds
    out = torch.empty(len(y), dtype=torch.float64)
    temperatures = []
    for k in range(n_folds):
        rest, here = fold != k, fold == k
        t = fit_temperature(y[rest], p[rest])
        out[here] = apply_temperature(p[here], t)
        temperatures.append(t)
    return out, temperatures


def _percentiles(stats: torch.Tensor) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of bootstrap statistics (R,)."""
    low, high = torch.quantile(stats, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return low, high


def ece_interval(labels, probs, n_bins: int = 10, n_resamples: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(ECE, low, high): eq-truth-ece with a 95% percentile-bootstrap interval over the statements."""
    y, p = _check_probs(labels, probs)
    check_positive_int("n_bins", n_bins)
    idx = resample_rows(len(y), n_resamples, seed)  # (R, N)
    return float(_ece(y, p, n_bins)), *_percentiles(_ece(y[idx], p[idx], n_bins))


def ece_change_interval(
    labels, before, after, n_bins: int = 10, n_resamples: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """(ECE(after) − ECE(before), low, high): the change with a 95% percentile-bootstrap interval
    in which both ECEs are computed on the *same* resampled statements (a paired bootstrap), so
    the spread they share, and the upward bias of a resampled ECE that both carry, cancel."""
    y, p_before = _check_probs(labels, before)
    _, p_after = _check_probs(labels, after)
    check_positive_int("n_bins", n_bins)
    idx = resample_rows(len(y), n_resamples, seed)  # (R, N)
    stats = _ece(y[idx], p_after[idx], n_bins) - _ece(y[idx], p_before[idx], n_bins)  # (R,)
    return float(_ece(y, p_after, n_bins) - _ece(y, p_before, n_bins)), *_percentiles(stats)
