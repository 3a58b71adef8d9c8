"""Feynman–Kac (resolvent) attention: the sum over every attention path, discounted per hop.

Standard attention mixes values once, ``A V`` with ``A = softmax(QKᵀ/√D + log M)``
row-stochastic. FK attention (Madhusudanan, 2025, after Kac, 1949 and Katz, 1953) mixes them
along paths of every length, each hop discounted by ``β``:

    Y = Σ_{k≥0} (βA)^k V = (I − βA)⁻¹ V                          (eq-fk-resolvent)
    Y_K = Σ_{k=0}^{K} (βA)^k V = V + βA(V + βA(V + …))          (eq-fk-series, Horner)
    max|Y − Y_K| ≤ q^{K+1} / (1 − q) · max|V|,  q = |β|·‖A‖∞    (eq-fk-bound)
    Y' = A (I − βA)⁻¹ V = Σ_{k≥1} β^{k−1} A^k V  (eq-fk-no-self: ``self_term=False``, standard at β = 0)

The series converges iff ρ(βA) < 1. A softmax matrix (masked or not) has non-negative rows
summing to 1 (to 0 for a query that sees nothing), so ρ(A) ≤ ‖A‖∞ ≤ 1, with ρ(A) = 1 as soon
as one row sums to 1 (A·1 = 1): the condition is exactly ``|β| < 1``. The optional
normalisation multiplies by ``(1 − β)``, which makes every row of ``(1 − β)(I − βA)⁻¹`` sum
to 1 again, so outputs stay on the scale of V.

Dimension letters: B batch, H heads, T sequence, D head width, C = H·D model width.
Papers: Kac (1949), Katz (1953), Vaswani et al. (2017); norms and spectra: Horn & Johnson (2012).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from spark_edu.attention.dense import attention_weights
from spark_edu.fk_convergence import (  # re-exported: the chapter imports them from here
    _check_pair,
    check_beta,
    check_convergence,
    is_substochastic,
    prototype_beta_limit,
    spectral_radius,
)
from spark_edu.validation import check_bool, check_float, check_input, check_ndim, check_positive_int, check_range

__all__ = [
    "FKAttention",
    "FKConfig",
    "check_beta",
    "check_convergence",
    "fk_attention",
    "fk_attention_factory",
    "hops_for_tolerance",
    "is_substochastic",
    "path_series",
    "prototype_beta_limit",
    "resolvent",
    "series_error_bound",
    "spectral_radius",
]


# --- the two ways to compute it -------------------------------------------------------------
def _scale(beta: float, normalize: bool) -> float:
    return (1.0 - beta) if normalize else 1.0


def resolvent(
    A: torch.Tensor, V: torch.Tensor, beta: float, normalize: bool = False, triangular: bool = False, check: bool = True
) -> torch.Tensor:
    """Exact ``(I − βA)⁻¹ V`` (eq-fk-resolvent) by a linear solve, batched over leading dims.

    A: (..., T, T), V: (..., T, D) -> (..., T, D). Never forms the inverse: one LU
    factorisation and D triangular solves, O(T³ + T²D) per matrix. ``triangular=True`` (a
    causal ``A`` is lower triangular) uses a triangular solve instead, O(T²D).
    """
    if check:
        _check_pair(A, V)
        check_convergence(A, beta)
    T = A.shape[-1]
    eye = torch.eye(T, dtype=A.dtype, device=A.device)  # (T, T)
    system = eye - beta * A  # (..., T, T)
    system, rhs = _broadcast_batch(system, V)  # (..., T, T), (..., T, D)
    if triangular:
        Y = torch.linalg.solve_triangular(system, rhs, upper=False)  # (..., T, D)
    else:
        Y = torch.linalg.solve(system, rhs)  # (..., T, D)
    return _scale(beta, normalize) * Y


def _broadcast_batch(system: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    batch = torch.broadcast_shapes(system.shape[:-2], V.shape[:-2])
    return system.expand(*batch, *system.shape[-2:]), V.expand(*batch, *V.shape[-2:])


def path_series(
    A: torch.Tensor, V: torch.Tensor, beta: float, hops: int, normalize: bool = False, check: bool = True
) -> torch.Tensor:
    """Truncated path sum ``Σ_{k=0}^{K} (βA)^k V`` (eq-fk-series) in Horner form.

    A: (..., T, T), V: (..., T, D) -> (..., T, D). ``hops = K`` matrix products, O(K·T²·D);
    the error against :func:`resolvent` is at most :func:`series_error_bound`.
    """
    if check:
        _check_pair(A, V)
        check_positive_int("hops", hops, minimum=0)
        check_convergence(A, beta)
    Y = V  # (..., T, D): paths of length 0
    for _ in range(hops):
        Y = V + beta * (A @ Y)  # (..., T, D): one more hop on every path
    return _scale(beta, normalize) * Y


def series_error_bound(A: torch.Tensor, V: torch.Tensor, beta: float, hops: int, normalize: bool = False) -> float:
    """Bound on ``max|resolvent − path_series|`` (eq-fk-bound).

    The tail is ``Σ_{k>K} (βA)^k V``; each product with ``A`` multiplies the largest entry by
    at most ``‖A‖∞`` (the largest absolute row sum), so the tail is at most
    ``q^{K+1}/(1 − q) · max|V|`` with ``q = |β|·‖A‖∞``; ``inf`` when ``q ≥ 1`` (no bound).
    For a softmax matrix ``‖A‖∞ = 1`` and the bound is ``|β|^{K+1}/(1 − |β|) · max|V|``.
    """
    check_positive_int("hops", hops, minimum=0)
    q = abs(float(beta)) * float(A.abs().sum(dim=-1).max())
    if q >= 1:
        return math.inf
    return abs(_scale(beta, normalize)) * q ** (hops + 1) / (1 - q) * float(V.abs().max())


def hops_for_tolerance(beta: float, rel_tol: float) -> int:
    """Smallest K with ``|β|^{K+1}/(1 − |β|) ≤ rel_tol``: hops needed for a relative accuracy."""
    b = abs(check_beta(beta))
    check_range("rel_tol", rel_tol, 0.0, math.inf, low_inclusive=False)
    if b == 0:
        return 0
    return max(0, math.ceil(math.log(rel_tol * (1 - b)) / math.log(b) - 1))


def fk_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: float = 0.3,
    n_terms: int | None = None,
    mask: torch.Tensor | None = None,
    normalize: bool = True,
    causal: bool = False,
    self_term: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """FK attention on (..., T, D) queries, keys, values; returns ``(out, A)``.

    ``A = softmax(QKᵀ/√D + log M)`` (eq-attention-sdpa), then eq-fk-resolvent when
    ``n_terms is None``, else eq-fk-series with ``K = n_terms`` hops; ``self_term=False``
    multiplies by ``A`` first (eq-fk-no-self: no k = 0 path, rows still sum to 1 normalised).
    """
    beta = check_beta(beta)
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_float(name, t, like=None if name == "q" else ("q", q))
        check_ndim(name, t, (2, 3, 4))
    if not (q.shape == k.shape and q.shape[:-1] == v.shape[:-1]):
        raise ValueError(
            f"q, k must have the same shape (..., T, D) and v (..., T, Dv); "
            f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if n_terms is not None:
        check_positive_int("n_terms", n_terms, minimum=0)
    T = q.shape[-2]
    mask = _combine_masks(mask, T, causal, q.device)
    A = attention_weights(q, k, mask)  # (..., T, T)
    if n_terms is None:
        out = resolvent(A, v, beta, normalize, triangular=causal, check=False)  # (..., T, Dv)
    else:
        out = path_series(A, v, beta, n_terms, normalize, check=False)  # (..., T, Dv)
    return (out if self_term else A @ out), A


def _combine_masks(mask: torch.Tensor | None, T: int, causal: bool, device) -> torch.Tensor | None:
    if mask is not None:
        check_bool("mask", mask)
        if mask.dim() < 2 or mask.shape[-2:] != (T, T):
            raise ValueError(f"mask must end in (T, T) = ({T}, {T}), got shape {tuple(mask.shape)}")
    if causal:
        lower = torch.ones(T, T, dtype=torch.bool, device=device).tril()  # (T, T)
        mask = lower if mask is None else mask & lower
    return mask


# --- the module -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FKConfig:
    beta: float = 0.3  # hop discount; |beta| < 1
    n_terms: int | None = None  # K hops of eq-fk-series; None = exact resolvent
    normalize: bool = True  # multiply by (1 - beta) so outputs stay on V's scale
    causal: bool = True
    self_term: bool = True  # False: A (I - beta A)^-1 V, paths of at least one hop (eq-fk-no-self)

    def __post_init__(self):
        check_beta(self.beta)
        if self.n_terms is not None:
            check_positive_int("n_terms", self.n_terms, minimum=0)


class FKAttention(nn.Module):
    """Multi-head FK attention: ``concat_h (I − βA_h)⁻¹ V_h · W_O`` (eq-fk-resolvent per head).

    Same projections as :class:`spark_edu.transformer.MultiHeadSelfAttention` and the SPaR-K
    prototype (q, k, v without bias, output with bias: 4C² + C parameters), so it drops into
    :class:`spark_edu.transformer.Transformer` through ``attention_factory`` at a matched
    parameter count. ``n_terms=None`` solves exactly (a triangular solve when causal);
    an int K keeps paths of up to K hops.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        beta: float = 0.3,
        n_terms: int | None = None,
        causal: bool = True,
        normalize: bool = True,
        self_term: bool = True,
    ):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.config = FKConfig(beta, n_terms, normalize, causal, self_term)
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model)

    def extra_repr(self) -> str:
        c = self.config
        text = f"heads={self.n_heads}, beta={c.beta}, n_terms={c.n_terms}, causal={c.causal}, normalize={c.normalize}"
        return text if c.self_term else text + ", self_term=False"

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_input("x", x, self.q_proj.weight)
        if x.dim() != 3 or x.shape[-1] != self.q_proj.in_features:
            raise ValueError(f"x must have shape (B, T, C) with C = {self.q_proj.in_features}, got {tuple(x.shape)}")
        B, T, C = x.shape
        H, D = self.n_heads, C // self.n_heads
        q, k, v = (p(x).view(B, T, H, D).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))  # (B,H,T,D)
        return self.out_proj(self._mix(q, k, v, mask).transpose(1, 2).reshape(B, T, C))  # (B, T, C)

    def _mix(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask) -> torch.Tensor:
        """(B, H, T, D) heads -> (B, H, T, D): the FK step (a subclass may change how β is set).

        The series with no mask but the causal one takes :func:`_series_heads`; a mask or the
        exact resolvent takes :func:`fk_attention`, the reference it is tested against."""
        c = self.config
        if mask is None and c.n_terms is not None:
            return _series_heads(q, k, v, c)
        return fk_attention(q, k, v, c.beta, c.n_terms, mask, c.normalize, c.causal, c.self_term)[0]


def _series_heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, c: FKConfig) -> torch.Tensor:
    """:func:`fk_attention` with ``K = c.n_terms`` hops on a layer's own (B, H, T, D) heads.

    The same equations without validating again what the layer made: ``A`` by eq-attention-sdpa
    (no row is fully masked, so none needs zeroing) and each Horner hop of eq-fk-series,
    ``Y ← V + β·A·Y``, as one fused ``baddbmm`` (a node instead of three per hop).
    """
    B, H, T, D = q.shape
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)  # (B, H, T, T)
    if c.causal:
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), -math.inf)
    A = scores.softmax(dim=-1).view(B * H, T, T)  # (BH, T, T)
    V = v.reshape(B * H, T, D)  # (BH, T, D)
    Y = V  # paths of length 0
    for _ in range(c.n_terms):
        Y = torch.baddbmm(V, A, Y, alpha=c.beta)  # (BH, T, D): one more hop on every path
    if c.normalize:
        Y = _scale(c.beta, c.normalize) * Y  # (BH, T, D); unnormalised, the scale is 1 and no product is formed
    return (Y if c.self_term else A @ Y).view(B, H, T, D)  # (B, H, T, D)


def fk_attention_factory(beta: float = 0.3, n_terms: int | None = None, normalize: bool = True, self_term: bool = True):
    """An ``attention_factory`` for :class:`spark_edu.transformer.Transformer` (causal from its config)."""
    FKConfig(beta, n_terms, normalize, self_term=self_term)  # validate now, not at the first layer

    def factory(config, layer: int) -> FKAttention:
        return FKAttention(config.d_model, config.n_heads, beta, n_terms, config.causal, normalize, self_term)

    factory.__name__ = f"fk_attention_beta{beta}_K{n_terms}" + ("" if self_term else "_noself")
    return factory
