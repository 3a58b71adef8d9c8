"""Paired tests for two classifiers scored on the same statements: DeLong's test for AUC and
McNemar's test for accuracy, written from their definitions.

**DeLong's test** (DeLong, DeLong & Clarke-Pearson, 1988, *Biometrics* 44:837–845). With m
positives X and n negatives Y, classifier r's AUC is the mean of the kernel
ψ(x, y) = [x > y] + ½[x = y] over all m·n pairs. Its *placements* (structural components)

    V10_i = (1/n) Σ_j ψ(X_i, Y_j),     V01_j = (1/m) Σ_i ψ(X_i, Y_j)          (eq-truth-placements)

both average to the AUC. With S10 and S01 the (K, K) sample covariances (divisors m−1, n−1)
of the placements across the K classifiers, the AUC estimates have covariance

    S = S10 / m + S01 / n,      z = (Â₁ − Â₂) / √(S₁₁ + S₂₂ − 2 S₁₂)          (eq-truth-delong)

and z is asymptotically standard normal when the two AUCs are equal. The placements come from
mid-ranks (Sun & Xu, 2014, *IEEE Signal Processing Letters* 21:1389–1393): V10_i = (rank of X_i
among all scores − rank of X_i among the positives) / n, which costs O(N log N), not O(m n).

**McNemar's test** (McNemar, 1947, *Psychometrika* 12:153–157). Only the statements on which
the classifiers disagree carry information: b = A right and B wrong, c = A wrong and B right.
Under H₀ (equal accuracy) b ~ Binomial(b + c, ½), so the exact two-sided p-value is

    p = min(1, 2 Σ_{k ≤ min(b, c)} C(b+c, k) / 2^{b+c}),                       (eq-truth-mcnemar)

and the large-sample form is χ² = (|b − c| − 1)² / (b + c) on one degree of freedom, with
Edwards' (1948, *Psychometrika* 13:185–187) continuity correction (−1; drop it with
``correction=False``). Both tests are checked against scipy and brute force in
``tests/test_truthfulness_stats.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from spark_edu.truthfulness.metrics import average_ranks, check_labels


def _normal_two_sided(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z: erfc(|z| / √2)."""
    return math.erfc(abs(z) / math.sqrt(2))


def _chi2_1_sf(x: float) -> float:
    """P(χ²₁ ≥ x) = P(|Z| ≥ √x) for one degree of freedom."""
    return math.erfc(math.sqrt(max(x, 0.0) / 2))


def placements(labels, scores) -> tuple[torch.Tensor, torch.Tensor]:
    """eq-truth-placements for K score rows: V10 (K, m) of the positives and V01 (K, n) of the negatives.

    ``scores`` is (N,) or (K, N); labels (N,) must hold both classes.
    """
    s = torch.as_tensor(scores).double()
    rows = s.unsqueeze(0) if s.dim() == 1 else s  # (K, N)
    if rows.dim() != 2:
        raise ValueError(f"scores must be (N,) or (K, N), got shape {tuple(s.shape)}")
    y, _ = check_labels(labels, rows[0])
    for row in rows:
        check_labels(y, row)
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    if m == 0 or n == 0:
        raise ValueError("DeLong placements need both classes in labels; got only one")
    all_ranks = average_ranks(rows)  # (K, N) mid-ranks among all scores
    v10 = (all_ranks[:, pos] - average_ranks(rows[:, pos])) / n  # (K, m) fraction of negatives beaten
    v01 = 1 - (all_ranks[:, neg] - average_ranks(rows[:, neg])) / m  # (K, n) fraction of positives above
    return v10, v01


def delong_covariance(labels, scores) -> tuple[torch.Tensor, torch.Tensor]:
    """(AUCs (K,), their covariance S (K, K)) by eq-truth-delong."""
    v10, v01 = placements(labels, scores)
    m, n = v10.shape[1], v01.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong's covariance needs at least two statements of each class, got {m} and {n}")
    auc = v10.mean(1)  # (K,)
    s10 = torch.cov(v10)  # (K, K), divisor m − 1
    s01 = torch.cov(v01)  # (K, K), divisor n − 1
    cov = (s10 / m + s01 / n).reshape(len(auc), len(auc))
    return auc, cov


@dataclass(frozen=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    difference: float  # auc_a − auc_b
    se: float  # standard error of the difference
    z: float
    p_value: float  # two-sided
    low: float  # 95% normal interval for the difference
    high: float


def delong_test(labels, scores_a, scores_b) -> DeLongResult:
    """DeLong's paired test of AUC(a) = AUC(b) on the same statements (eq-truth-delong)."""
    a, b = torch.as_tensor(scores_a).double(), torch.as_tensor(scores_b).double()
    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(
            f"scores_a and scores_b must be 1-D and of the same length, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    auc, cov = delong_covariance(labels, torch.stack([a, b]))
    diff = float(auc[0] - auc[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:  # identical placements: no evidence of a difference
        z, p = 0.0, 1.0
    else:
        z = diff / se
        p = _normal_two_sided(z)
    half = 1.959963984540054 * se
    return DeLongResult(float(auc[0]), float(auc[1]), diff, se, z, p, diff - half, diff + half)


@dataclass(frozen=True)
class McNemarResult:
    b: int  # a right, b wrong
    c: int  # a wrong, b right
    p_exact: float  # eq-truth-mcnemar, two-sided
    chi2: float
    p_chi2: float


def _correct(name: str, labels: torch.Tensor, preds) -> torch.Tensor:
    y, p = check_labels(labels, preds, name)
    if not bool(((p == 0) | (p == 1)).all()):
        raise ValueError(f"{name} must be 0 or 1 (threshold the scores first)")
    return p.long() == y


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair trials: min(1, 2 P(X ≤ min(k, n − k)))."""
    if not 0 <= k <= n:
        raise ValueError(f"k must lie in [0, n], got k={k}, n={n}")
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
    return min(1.0, 2 * tail / 2**n)


def mcnemar_test(labels, preds_a, preds_b, correction: bool = True) -> McNemarResult:
    """McNemar's test of equal accuracy for two 0/1 prediction vectors on the same statements."""
    y = torch.as_tensor(labels)
    right_a, right_b = _correct("preds_a", y, preds_a), _correct("preds_b", y, preds_b)
    b = int((right_a & ~right_b).sum())
    c = int((~right_a & right_b).sum())
    if b + c == 0:
        return McNemarResult(b, c, 1.0, 0.0, 1.0)
    gap = abs(b - c) - (1 if correction else 0)
    chi2 = max(gap, 0) ** 2 / (b + c)
    return McNemarResult(b, c, binomial_two_sided(b, b + c), chi2, _chi2_1_sf(chi2))
