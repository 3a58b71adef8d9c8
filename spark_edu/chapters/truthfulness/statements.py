"""The modular report's finding in words about its classifier, judged on the chapter's predictions.

``modular.truth.threshold_consistency`` — "ROC curve analysis shows consistent performance
across different thresholds". Measured: on the held-out (outer-fold) predictions of each
classifier the chapter runs on the LIAR-like data (TF-IDF logistic regression, the headline,
and the transformer), the accuracy of ``ŷ = [P(true) ≥ τ]`` at τ = 0.3, 0.4, 0.5, 0.6, 0.7,
each with its 95% percentile-bootstrap interval, and its difference from the accuracy at 0.5
with a paired bootstrap interval (the same resampled statements for every τ). The statement
holds when, for every judged classifier, every |accuracy(τ) − accuracy(0.5)| is at most 0.05;
the intervals are shown beside the point values. The prototype-style control (labels that
ignore the text) is not judged: no classifier has anything to be consistent about there.

:func:`threshold_accuracies` measures, :func:`threshold_consistency` judges (plain numbers
in, a Measurement out), :func:`measure` runs both on a
:class:`~spark_edu.chapters.truthfulness.experiments.TruthResults`.
"""

from __future__ import annotations

import torch

from spark_edu.claims import Measurement
from spark_edu.device import one_thread
from spark_edu.truthfulness.metrics import METRICS, check_labels, resample_rows

KEY = "modular.truth.threshold_consistency"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
REFERENCE = 0.5
TOLERANCE = 0.05
JUDGED = ("logistic regression", "transformer")  # on the LIAR-like data; the first is the headline


def threshold_accuracies(
    labels, probs, thresholds=THRESHOLDS, n_resamples: int = 1000, seed: int = 0
) -> dict[float, dict[str, tuple[float, float, float]]]:
    """``{τ: {"accuracy": (value, low, high), "difference": (value, low, high)}}``, 95% percentile
    bootstrap intervals; the difference is accuracy(τ) − accuracy(0.5) on the same resampled rows.
    The resamples are those of :func:`~spark_edu.truthfulness.metrics.bootstrap_ci` with the same
    ``seed``, drawn once for all thresholds, so each accuracy interval equals ``bootstrap_ci``'s."""
    y, s = check_labels(labels, probs)
    accuracy = METRICS["accuracy"]
    with one_thread():
        idx = resample_rows(len(y), n_resamples, seed)  # (R, N)
        y_r, s_r = y[idx], s[idx]  # (R, N) resampled rows
        q = torch.tensor([0.025, 0.975], dtype=torch.float64)
        on_resamples = {t: accuracy(y_r, s_r, t).double() for t in {*thresholds, REFERENCE}}  # τ -> (R,)
        out = {}
        for t in thresholds:
            value = float(accuracy(y, s, t))
            change = value - float(accuracy(y, s, REFERENCE))
            out[t] = {
                "accuracy": (value, *torch.nanquantile(on_resamples[t], q).tolist()),
                "difference": (change, *torch.quantile(on_resamples[t] - on_resamples[REFERENCE], q).tolist()),
            }
    return out


def threshold_consistency(
    accuracies: dict[str, dict[float, dict[str, tuple[float, float, float]]]], tolerance: float = TOLERANCE
) -> Measurement:
    """Judge the statement from ``{classifier: threshold_accuracies(...)}``: it holds when every
    classifier's accuracy at every threshold lies within ``tolerance`` of its accuracy at 0.5."""
    if not accuracies:
        raise ValueError("accuracies must hold at least one classifier")
    parts, failing, worst = [], [], {}
    for name, by_t in accuracies.items():
        if REFERENCE not in by_t:
            raise ValueError(f"{name}: the accuracy at the reference threshold {REFERENCE} is missing")
        far = max((t for t in by_t if t != REFERENCE), key=lambda t: abs(by_t[t]["difference"][0]))
        worst[name] = (far, by_t[far]["difference"][0])
        if abs(worst[name][1]) > tolerance:
            failing.append(name)
        a = by_t[REFERENCE]["accuracy"]
        cells = ", ".join(
            f"{t:g}: {v[0]:.3f} ({d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}])"
            for t, row in sorted(by_t.items())
            if t != REFERENCE
            for v, d in [(row["accuracy"], row["difference"])]
        )
        parts.append(
            f"{name}: accuracy at {REFERENCE:g} {a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}]; at {cells}; "
            f"largest |change| {abs(worst[name][1]):.3f} at {worst[name][0]:g}"
        )
    holds = not failing
    verdict = (
        f"within {tolerance:g} at every threshold for {' and '.join(accuracies)}"
        if holds
        else f"outside {tolerance:g} for {' and '.join(failing)}"
    )
    reason = (
        "held-out LIAR-like predictions (nested CV), 95% bootstrap intervals, change from 0.5 paired; "
        + "; ".join(parts)
        + f"; {verdict}"
    )
    details = {"accuracies": accuracies, "largest_change": worst, "tolerance": tolerance, "failing": failing}
    return Measurement(KEY, holds, reason=reason, details=details)


def measure(results, judged=JUDGED, data: str = "LIAR-like") -> Measurement:
    """The statement on ``results`` (a TruthResults): every judged classifier that was run."""
    labels, cfg = results.data[data].labels, results.config
    accuracies = {
        c: threshold_accuracies(labels, results.probs[data, c], THRESHOLDS, cfg.n_resamples, cfg.seed)
        for c in judged
        if (data, c) in results.probs
    }
    return threshold_consistency(accuracies)
