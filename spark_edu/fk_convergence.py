"""When the FK path series converges: the checks on β and ``A`` behind eq-fk-resolvent.

``Σ_k (βA)^k`` converges iff ρ(βA) < 1. Every softmax matrix is (sub)stochastic, so
ρ(A) ≤ ‖A‖∞ ≤ 1 and the condition is ``|β| < 1`` (:func:`check_beta`); for any other matrix
:func:`check_convergence` computes the spectral radius. :func:`prototype_beta_limit` keeps the
original prototype's wrong cap, to teach why it is wrong. Used by :mod:`spark_edu.fk_attention`,
which re-exports these names. Norms and spectra: Horn & Johnson (2012).
"""

from __future__ import annotations

import torch

from spark_edu.validation import check_float, check_range

_STOCHASTIC_TOL = 1e-5  # slack on "rows are non-negative and sum to at most 1"


def check_beta(beta: float) -> float:
    """``|β| < 1``: the convergence condition for any row-stochastic ``A``."""
    try:
        check_range("beta", beta, -1.0, 1.0, low_inclusive=False, high_inclusive=False)
    except ValueError:
        raise ValueError(
            f"beta must lie in (-1, 1) (open): a softmax matrix has spectral radius 1, so the path "
            f"series Σ (βA)^k converges iff |beta| < 1; got {beta!r}"
        ) from None
    return float(beta)


def _check_pair(A: torch.Tensor, V: torch.Tensor) -> None:
    check_float("A", A)
    check_float("V", V, like=("A", A))
    if A.dim() < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be square in its last two dims (..., T, T), got shape {tuple(A.shape)}")
    if V.dim() < 2 or V.shape[-2] != A.shape[-1]:
        raise ValueError(f"V must have shape (..., T, D) with T = {A.shape[-1]} (A's size), got {tuple(V.shape)}")
    try:
        torch.broadcast_shapes(A.shape[:-2], V.shape[:-2])
    except RuntimeError:
        raise ValueError(f"leading dims of A {tuple(A.shape)} and V {tuple(V.shape)} do not broadcast") from None


def is_substochastic(A: torch.Tensor, tol: float = _STOCHASTIC_TOL) -> bool:
    """True when every entry is ≥ 0 and every row sums to at most 1 (so ‖A‖∞ ≤ 1, ρ(A) ≤ 1)."""
    return bool((A >= -tol).all()) and bool((A.sum(dim=-1) <= 1 + tol).all())


def spectral_radius(A: torch.Tensor) -> torch.Tensor:
    """ρ(A) = max |λ| for each matrix in the batch (an eigenvalue solve: small T only)."""
    return torch.linalg.eigvals(A.detach().to(torch.float64)).abs().amax(dim=-1)  # (...)


def check_convergence(A: torch.Tensor, beta: float) -> None:
    """Raise ``ValueError`` unless ρ(βA) < 1, i.e. unless the path series converges.

    For a (sub)stochastic ``A`` (every softmax matrix) this is ``|β| < 1``; for any other
    matrix it computes the spectral radius.
    """
    check_range("beta", beta)
    beta = float(beta)
    if is_substochastic(A):
        check_beta(beta)
        return
    rho = float(spectral_radius(A).max())
    if not abs(beta) * rho < 1:
        raise ValueError(
            f"the path series needs rho(beta A) < 1, got |beta| * rho(A) = "
            f"{abs(beta)} * {rho:.4g} = {abs(beta) * rho:.4g}; choose |beta| < {1 / rho:.4g}"
        )


def prototype_beta_limit(A: torch.Tensor) -> float:
    """The original prototype's "stability" cap ``0.99 / max|A_ij|``: WRONG, kept to teach why.

    The largest entry of a softmax matrix lies between 1/T and 1, while its spectral radius
    is exactly 1, so this cap lets β reach 0.99·T: the series diverges for every β ≥ 1 and
    ``I − βA`` is singular at β = 1 (``(I − A)·1 = 0``).
    """
    return 0.99 / (float(A.abs().max()) + 1e-8)
