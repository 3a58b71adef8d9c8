"""Balance and specialisation metrics for a routing decision, each defined once.

Dimension letters: T tokens, E experts, K experts per token, C token categories.

Load fractions and their spread::

    f_e = (1 / (T·K)) Σ_t Σ_k 1[expert e is an assignment of token t]     (eq-moe-load)
    CV  = std(f) / mean(f)          (population std; mean(f) = 1/E)        (eq-moe-cv)
    MaxVio = (max_e f_e − 1/E) / (1/E) = E · max_e f_e − 1                 (eq-moe-maxvio)

MaxVio is from Wang et al. (2024). Two load-balance coefficients in [0, 1], both 1.0 exactly
when every expert gets 1/E of the assignments ("1.0 = perfectly balanced"), both 0 when one
expert gets everything::

    B_cv  = max(0, 1 − CV²)                                                (eq-moe-balance-cv)
    B_ent = −Σ_e f_e log f_e / log E                                       (eq-moe-balance-entropy)

They disagree in between: B_cv punishes any spread quadratically and is already 0 when half
the experts are idle (CV² = 1); B_ent still gives 1 − log 2 / log E there.

Specialisation from the category × expert routing matrix ``M[c, e]`` (routing mass of
category-c tokens on expert e; gate-weighted by default, so an expert counts for the share
of the token's output it produces)::

    q(c | e) = M[c, e] / Σ_c M[c, e]
    S_e = 1 − H(q(· | e)) / log C          (1 = sees one category, 0 = sees them all equally)
    S   = Σ_e w_e S_e,   w_e = Σ_c M[c, e] / Σ M      (load-weighted)      (eq-moe-specialisation)

S = 1 − H(category | expert) / log C. With equally frequent categories this equals the
normalised mutual information I(category; expert) / H(category); load-weighting keeps idle
experts (whose S_e is undefined) out of the average.
"""

from __future__ import annotations

import math

import torch

from spark_edu.validation import check_bool, check_finite, check_float, check_integer, check_ndim, check_positive_int


def load_fractions(indices: torch.Tensor, n_experts: int, kept: torch.Tensor | None = None) -> torch.Tensor:
    """(E,) share of the T·K assignments each expert receives (eq-moe-load).

    With ``kept`` (T, K), only the assignments an expert actually processed are counted.
    """
    check_positive_int("n_experts", n_experts)
    check_integer("indices", indices, 0, n_experts)
    flat = indices.reshape(-1)  # (T*K,)
    if flat.numel() == 0:
        raise ValueError("indices must hold at least one assignment")
    if kept is not None:
        check_bool("kept", kept)
        if kept.shape != indices.shape:
            raise ValueError(f"kept must have the shape of indices {tuple(indices.shape)}, got {tuple(kept.shape)}")
    weights = None if kept is None else kept.reshape(-1).to(torch.float64)  # (T*K,)
    counts = torch.bincount(flat, weights=weights, minlength=n_experts).to(torch.float64)  # (E,)
    total = counts.sum()
    return counts / total if total > 0 else counts


def _check_fractions(fractions: torch.Tensor) -> torch.Tensor:
    check_finite("fractions", fractions)
    check_ndim("fractions", fractions, (1,))
    f = fractions.to(torch.float64)
    if bool((f < 0).any()) or abs(float(f.sum()) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be non-negative and sum to 1, got sum {float(f.sum()):.6g}")
    return f


def coefficient_of_variation(fractions: torch.Tensor) -> float:
    """``std(f) / mean(f)`` with the population std (eq-moe-cv)."""
    f = _check_fractions(fractions)
    return float(f.std(unbiased=False) / f.mean())


def balance_cv(fractions: torch.Tensor) -> float:
    """``max(0, 1 − CV²)`` (eq-moe-balance-cv)."""
    return max(0.0, 1.0 - coefficient_of_variation(fractions) ** 2)


def balance_entropy(fractions: torch.Tensor) -> float:
    """Normalised entropy ``H(f) / log E`` (eq-moe-balance-entropy); 1.0 for one expert."""
    f = _check_fractions(fractions)
    if f.numel() == 1:
        return 1.0
    nz = f[f > 0]
    return float(-(nz * nz.log()).sum() / math.log(f.numel())) + 0.0  # + 0.0 turns -0.0 into 0.0


def max_violation(fractions: torch.Tensor) -> float:
    """``E · max_e f_e − 1`` (eq-moe-maxvio): how far the busiest expert is over its fair share."""
    f = _check_fractions(fractions)
    return float(f.numel() * f.max() - 1.0)


def dropped_rate(kept: torch.Tensor) -> float:
    """Fraction of the T·K assignments that found their expert full."""
    if kept.dtype != torch.bool or kept.numel() == 0:
        raise ValueError("kept must be a non-empty bool tensor")
    return float(1.0 - kept.to(torch.float64).mean())


def unrouted_rate(kept: torch.Tensor) -> float:
    """Fraction of the T tokens that no expert processed (every assignment dropped, or, with
    expert choice, no expert took them): they pass only through the residual path. kept (T, K)."""
    if kept.dtype != torch.bool or kept.dim() != 2 or kept.numel() == 0:
        raise ValueError("kept must be a non-empty (T, K) bool tensor")
    return float((~kept.any(dim=-1)).to(torch.float64).mean())


def routing_matrix(
    categories: torch.Tensor,
    indices: torch.Tensor,
    gates: torch.Tensor,
    n_categories: int,
    n_experts: int,
    weight: str = "gate",
) -> torch.Tensor:
    """(C, E) routing mass ``M[c, e]``: summed gate (``weight="gate"``) or assignment count
    (``weight="count"``) of category-c tokens on expert e. categories (T,), indices/gates (T, K)."""
    check_ndim("categories", categories, (1,))
    check_ndim("indices", indices, (2,))
    check_float("gates", gates)
    if weight not in ("gate", "count"):
        raise ValueError(f"weight must be 'gate' or 'count', got {weight!r}")
    if indices.shape != gates.shape or indices.shape[0] != categories.shape[0]:
        raise ValueError(
            f"categories (T,), indices (T, K), gates (T, K) must agree, got {tuple(categories.shape)}, "
            f"{tuple(indices.shape)}, {tuple(gates.shape)}"
        )
    check_positive_int("n_categories", n_categories)
    check_positive_int("n_experts", n_experts)
    check_integer("categories", categories, 0, n_categories)
    check_integer("indices", indices, 0, n_experts)
    w = gates.detach().to(torch.float64) if weight == "gate" else (gates != 0).to(torch.float64)  # (T, K)
    cell = categories[:, None] * n_experts + indices  # (T, K) flat (c, e) index
    counts = torch.bincount(cell.reshape(-1), weights=w.reshape(-1), minlength=n_categories * n_experts)
    return counts.reshape(n_categories, n_experts)  # (C, E)


def expert_specialisation(matrix: torch.Tensor) -> torch.Tensor:
    """(E,) ``S_e = 1 − H(q(·|e)) / log C``; NaN for an expert that receives nothing."""
    check_finite("matrix", matrix)
    check_ndim("matrix", matrix, (2,))
    M = matrix.to(torch.float64)  # (C, E)
    if bool((M < 0).any()) or M.shape[0] < 2:
        raise ValueError("matrix must be non-negative with at least 2 categories (rows)")
    load = M.sum(dim=0)  # (E,)
    q = M / load.clamp_min(1e-300)  # (C, E) columns sum to 1 where load > 0
    plogp = torch.where(q > 0, q * q.clamp_min(1e-300).log(), torch.zeros_like(q))  # (C, E)
    s = 1.0 + plogp.sum(dim=0) / math.log(M.shape[0])  # (E,)
    return torch.where(load > 0, s, torch.full_like(s, float("nan")))


def specialisation(matrix: torch.Tensor) -> float:
    """Load-weighted mean of :func:`expert_specialisation` (eq-moe-specialisation)."""
    s = expert_specialisation(matrix)  # (E,)
    load = matrix.to(torch.float64).sum(dim=0)  # (E,)
    if float(load.sum()) <= 0:
        raise ValueError("matrix must hold some routing mass")
    return float((torch.nan_to_num(s) * load).sum() / load.sum())


def normalised_mutual_information(matrix: torch.Tensor) -> float:
    """``I(category; expert) / H(category)`` from the (C, E) routing matrix, for comparison."""
    check_finite("matrix", matrix)
    check_ndim("matrix", matrix, (2,))
    M = matrix.to(torch.float64)
    if bool((M < 0).any()) or float(M.sum()) <= 0:
        raise ValueError("matrix must be non-negative and hold some routing mass")
    joint = M / M.sum()  # (C, E)
    pc, pe = joint.sum(dim=1, keepdim=True), joint.sum(dim=0, keepdim=True)  # (C, 1), (1, E)
    nz = joint > 0
    mi = (joint[nz] * (joint[nz] / (pc * pe).expand_as(joint)[nz]).log()).sum()
    h = -(pc[pc > 0] * pc[pc > 0].log()).sum()
    return float(mi / h) if h > 0 else 0.0
