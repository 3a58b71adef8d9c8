"""FK attention with a learned hop discount per head that cannot leave its convergence region.

:class:`spark_edu.fk_attention.FKAttention` fixes β. Here each head h learns its own
β_h through an unconstrained parameter θ_h:

    β_h = β_max · tanh(θ_h),   0 < β_max < 1                    (eq-fk-learned-beta)

Since |tanh θ| < 1 for every real θ (and rounds to at most 1 in floating point),
|β_h| ≤ β_max < 1 whatever the optimiser does: the path series Σ (β_h A)^k converges for
every softmax matrix A (eq-fk-convergence) and ``I − β_h A`` stays invertible, its
smallest diagonal entry at least ``1 − β_max`` when causal. θ starts at
``atanh(β₀ / β_max)``, so training starts from β₀. The head's output is eq-fk-resolvent
(or eq-fk-no-self with ``self_term=False``) with its own β_h, normalised by ``1 − β_h``.
The module has H parameters per layer more than standard attention (one θ per head). It
lives in the chapter, beside the experiments that train it, and subclasses the mechanism.

Dimension letters: B batch, H heads, T sequence, D head width, C = H·D model width.
Papers: Katz (1953); the bounded reparametrisation is the usual tanh squashing.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spark_edu.attention.dense import attention_weights
from spark_edu.fk_attention import FKAttention, _combine_masks, path_series, resolvent
from spark_edu.validation import check_range


def bounded_beta(theta: torch.Tensor, beta_max: float) -> torch.Tensor:
    """eq-fk-learned-beta: ``β_max · tanh(θ)``, inside ``[−β_max, β_max]`` for every θ."""
    return beta_max * torch.tanh(theta)


class LearnedBetaFKAttention(FKAttention):
    """Multi-head FK attention whose β_h is learned per head, ``|β_h| ≤ β_max < 1`` always.

    The same projections as :class:`~spark_edu.fk_attention.FKAttention` plus ``theta`` (H,).
    ``beta`` is the starting value of every head (``|beta| < beta_max``).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        beta: float = 0.3,
        beta_max: float = 0.95,
        n_terms: int | None = None,
        causal: bool = True,
        normalize: bool = True,
        self_term: bool = True,
    ):
        super().__init__(d_model, n_heads, beta, n_terms, causal, normalize, self_term)
        check_range("beta_max", beta_max, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        if not abs(beta) < beta_max:
            raise ValueError(f"beta (the starting value) must satisfy |beta| < beta_max = {beta_max}, got {beta}")
        self.beta_max = float(beta_max)
        self.theta = nn.Parameter(torch.full((n_heads,), math.atanh(beta / beta_max)))  # (H,)

    def betas(self) -> torch.Tensor:
        """(H,) the current β of every head."""
        return bounded_beta(self.theta, self.beta_max)

    def extra_repr(self) -> str:
        return super().extra_repr().replace("beta=", "beta_init=") + f", learned per head, beta_max={self.beta_max}"

    def _mix(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask) -> torch.Tensor:
        """The FK step with each head's learned β (bounded, so it needs no check)."""
        T = q.shape[-2]
        c = self.config
        A = attention_weights(q, k, _combine_masks(mask, T, c.causal, q.device))  # (B, H, T, T)
        beta = self.betas().to(A.dtype)[:, None, None]  # (H, 1, 1): |beta| <= beta_max < 1, no check needed
        if c.n_terms is None:
            y = resolvent(A, v, beta, c.normalize, triangular=c.causal, check=False)  # (B, H, T, D)
        else:
            y = path_series(A, v, beta, c.n_terms, c.normalize, check=False)  # (B, H, T, D)
        if not c.self_term:
            y = A @ y  # (B, H, T, D) eq-fk-no-self
        return y


def learned_beta_factory(beta: float = 0.3, beta_max: float = 0.95, self_term: bool = True):
    """An ``attention_factory`` for :class:`spark_edu.transformer.Transformer` (causal from its config)."""
    LearnedBetaFKAttention(4, 1, beta, beta_max, self_term=self_term)  # validate now, not at the first layer

    def factory(config, layer: int) -> LearnedBetaFKAttention:
        return LearnedBetaFKAttention(
            config.d_model, config.n_heads, beta, beta_max, causal=config.causal, self_term=self_term
        )

    factory.__name__ = f"fk_learned_beta{beta}_max{beta_max}" + ("" if self_term else "_noself")
    return factory
