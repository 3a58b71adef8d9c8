"""Binary classification metrics written from scratch, each checked against scikit-learn.

With labels y ∈ {0, 1}, scores p (higher = "true") and predictions ŷ = [p ≥ τ]:

    TP = Σ y ŷ,  FP = Σ (1−y) ŷ,  FN = Σ y (1−ŷ),  TN = Σ (1−y)(1−ŷ)
    accuracy = (TP+TN)/N,  precision = TP/(TP+FP),  recall = TP/(TP+FN),
    F1 = 2 TP / (2 TP + FP + FN)                                              (eq-truth-confusion)

An undefined ratio (0/0) is reported as 0, as scikit-learn does with ``zero_division=0``.
The ROC curve plots TPR = recall against FPR = FP/(FP+TN) as τ sweeps down the distinct
scores (Fawcett, 2006). Its area equals the Mann–Whitney statistic (Hanley & McNeil, 1982)

    AUC = (Σ_{i: y_i=1} r_i − n₊(n₊+1)/2) / (n₊ n₋),                          (eq-truth-auc)

with r_i the rank of p_i among all scores, tied scores sharing their average rank: the
probability that a random true statement outscores a random false one, ties counting ½.
Expected calibration error (Guo et al., 2017) bins the predicted probability into M equal
bins B_m and averages the gap between observed frequency and mean prediction:

    ECE = Σ_m |B_m|/N · |mean_{B_m}(y) − mean_{B_m}(p)|                       (eq-truth-ece)

Bootstrap intervals (Efron & Tibshirani, 1994) resample the N (label, score) pairs with
replacement and take percentiles of the metric. The public metrics take 1-D tensors and
validate them; the private kernels they call (``_counts``, ``_accuracy`` … ``_f1``, ``_auc``,
``_ece``, and :data:`METRICS`) compute along the last axis, so one call scores all (R, N) rows
of resamples at once, which is what makes the bootstrap fast.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spark_edu.validation import check_positive_int, check_range


def _as_tensor(name: str, x) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.dim() != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must be non-empty")
    return t


def check_labels(labels, other, other_name: str = "scores") -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a (labels, scores-or-predictions) pair; return them as (long, float64) tensors."""
    y, s = _as_tensor("labels", labels), _as_tensor(other_name, other)
    if len(y) != len(s):
        raise ValueError(f"labels and {other_name} must have the same length, got {len(y)} and {len(s)}")
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise ValueError("labels must be 0 or 1, got non-integer values")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("labels must be 0 or 1")
    s = s.double()
    if not bool(torch.isfinite(s).all()):
        raise ValueError(f"{other_name} contains NaN or infinite values; all entries must be finite")
    return y.long(), s


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp_min(1), torch.zeros_like(num, dtype=torch.float64))


def _counts(y: torch.Tensor, pred: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """TP, FP, FN, TN along the last axis, as float64 (eq-truth-confusion)."""
    y, pred = y.double(), pred.double()
    tp = (y * pred).sum(-1)
    fp = ((1 - y) * pred).sum(-1)
    fn = (y * (1 - pred)).sum(-1)
    tn = ((1 - y) * (1 - pred)).sum(-1)
    return tp, fp, fn, tn


def confusion_matrix(labels, preds) -> torch.Tensor:
    """[[TN, FP], [FN, TP]] (rows: true label 0, 1; columns: predicted 0, 1), like scikit-learn."""
    y, p = check_labels(labels, preds, "preds")
    tp, fp, fn, tn = _counts(y, p)
    return torch.stack([torch.stack([tn, fp]), torch.stack([fn, tp])]).long()


def _accuracy(y, p):
    tp, fp, fn, tn = _counts(y, p)
    return (tp + tn) / (tp + fp + fn + tn)


def _precision(y, p):
    tp, fp, _, _ = _counts(y, p)
    return _ratio(tp, tp + fp)


def _recall(y, p):
    tp, _, fn, _ = _counts(y, p)
    return _ratio(tp, tp + fn)


def _f1(y, p):
    tp, fp, fn, _ = _counts(y, p)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _check_preds(labels, preds):
    y, p = check_labels(labels, preds, "preds")
    if not bool(((p == 0) | (p == 1)).all()):
        raise ValueError("preds must be 0 or 1 (threshold the scores first)")
    return y, p


def accuracy(labels, preds) -> float:
    return float(_accuracy(*_check_preds(labels, preds)))


def precision(labels, preds) -> float:
    return float(_precision(*_check_preds(labels, preds)))


def recall(labels, preds) -> float:
    return float(_recall(*_check_preds(labels, preds)))


def f1_score(labels, preds) -> float:
    return float(_f1(*_check_preds(labels, preds)))


def roc_curve(labels, scores) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(fpr, tpr, thresholds), one point per distinct score plus the start (0, 0) at τ = +inf.

    Equals ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``. Needs both classes.
    """
    y, s = check_labels(labels, scores)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_curve needs both classes in labels; got only one")
    order = torch.argsort(s, descending=True, stable=True)
    s, y = s[order], y[order].double()  # (N,) scores high → low
    last_of_tie = torch.cat([s[1:] != s[:-1], torch.tensor([True])])  # (N,) end of each run of equal scores
    tps = torch.cumsum(y, 0)[last_of_tie]  # TP when τ = that score
    fps = torch.cumsum(1 - y, 0)[last_of_tie]
    zero = torch.zeros(1, dtype=torch.float64)
    fpr = torch.cat([zero, fps / n_neg])
    tpr = torch.cat([zero, tps / n_pos])
    thresholds = torch.cat([torch.tensor([float("inf")], dtype=torch.float64), s[last_of_tie]])
    return fpr, tpr, thresholds


def average_ranks(scores: torch.Tensor) -> torch.Tensor:
    """1-based ranks along the last axis, ties sharing their average rank (scipy's ``rankdata``)."""
    sorted_s, _ = scores.sort(dim=-1)  # (..., N)
    below = torch.searchsorted(sorted_s, scores, right=False)  # (..., N) how many are smaller
    not_above = torch.searchsorted(sorted_s, scores, right=True)  # (..., N) how many are ≤
    return (below + not_above + 1).double() / 2  # (..., N): mean of ranks below+1 … not_above


def _auc(y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """eq-truth-auc along the last axis; NaN where a row has only one class."""
    y = y.double()
    n_pos = y.sum(-1)
    n_neg = y.shape[-1] - n_pos
    rank_sum = (average_ranks(s) * y).sum(-1)  # (...,)
    u = rank_sum - n_pos * (n_pos + 1) / 2
    return torch.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg).clamp_min(1), torch.nan)


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve by ranks (eq-truth-auc); ``ValueError`` if only one class is present."""
    y, s = check_labels(labels, scores)
    if int(y.sum()) in (0, len(y)):
        raise ValueError("ROC AUC is undefined when labels hold only one class")
    return float(_auc(y, s))


def trapezoid_auc(fpr: torch.Tensor, tpr: torch.Tensor) -> float:
    """Area under a piecewise-linear ROC curve (the same number as :func:`roc_auc`)."""
    return float(torch.trapezoid(tpr, fpr))


def _ece(y: torch.Tensor, p: torch.Tensor, n_bins: int) -> torch.Tensor:
    inner = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[1:-1]  # (M-1,) inner bin edges
    bins = torch.searchsorted(inner, p.contiguous())  # (..., N) bin index; an edge value joins the lower bin
    one_hot = torch.nn.functional.one_hot(bins, n_bins).double()  # (..., N, M)
    size = one_hot.sum(-2)  # (..., M)
    gap = ((y.double() - p).unsqueeze(-1) * one_hot).sum(-2).abs()  # (..., M) |Σ y − Σ p| per bin
    return gap.sum(-1) / size.sum(-1)


def expected_calibration_error(labels, probs, n_bins: int = 10, kind: str = "positive") -> float:
    """eq-truth-ece. ``kind="positive"`` bins P(y=1); ``"confidence"`` bins max(p, 1−p) vs correctness (Guo et al.)."""
    y, p = check_labels(labels, probs, "probs")
    check_positive_int("n_bins", n_bins)
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError("probs must lie in [0, 1]")
    if kind == "confidence":
        pred = (p >= 0.5).long()
        y, p = (pred == y).long(), torch.maximum(p, 1 - p)
    elif kind != "positive":
        raise ValueError(f"kind must be 'positive' or 'confidence', got {kind!r}")
    return float(_ece(y, p, n_bins))


#: name -> metric of (labels, scores, threshold) along the last axis (AUC ignores the threshold)
METRICS: dict[str, Callable] = {
    "accuracy": lambda y, s, t: _accuracy(y, (s >= t).long()),
    "precision": lambda y, s, t: _precision(y, (s >= t).long()),
    "recall": lambda y, s, t: _recall(y, (s >= t).long()),
    "f1": lambda y, s, t: _f1(y, (s >= t).long()),
    "auc": lambda y, s, t: _auc(y, s),
}


def resample_rows(n: int, n_resamples: int, seed: int = 0) -> torch.Tensor:
    """(R, N) row indices drawn with replacement, one bootstrap resample per row (generator ``seed``):
    every bootstrap of this package draws its resamples here, so equal seeds give equal resamples."""
    check_positive_int("n_resamples", n_resamples, minimum=2)
    return torch.randint(n, (n_resamples, n), generator=torch.Generator().manual_seed(seed))


def bootstrap_ci(
    labels,
    scores,
    metric: str = "accuracy",
    threshold: float = 0.5,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(value, low, high): the metric and its percentile bootstrap interval at ``level``."""
    y, s = check_labels(labels, scores)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    check_range("level", level, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    fn = METRICS[metric]
    value = float(fn(y, s, threshold))
    idx = resample_rows(len(y), n_resamples, seed)  # (R, N) resampled rows
    stats = fn(y[idx], s[idx], threshold)  # (R,)
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    low, high = torch.nanquantile(stats, q).tolist()
    return value, low, high


def metric_table(labels, scores, threshold: float = 0.5, n_resamples: int = 1000, seed: int = 0) -> dict:
    """Every metric in :data:`METRICS` as ``{name: (value, low, high)}`` (95% bootstrap intervals)."""
    return {name: bootstrap_ci(labels, scores, name, threshold, n_resamples, 0.95, seed) for name in METRICS}
