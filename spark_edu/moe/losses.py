"""Auxiliary router losses, added to the task loss to keep routing healthy.

Dimension letters: T tokens, E experts (N in the papers), K experts chosen per token.

Switch load-balancing loss (Fedus et al., 2022, eq. 4; GShard's version differs only in
scaling)::

    L_bal = α · E · Σ_i f_i · P_i                                    (eq-moe-balance-loss)
    f_i = (1 / (T·K)) Σ_t Σ_k 1[expert i is token t's k-th choice]   (fraction of assignments)
    P_i = (1 / T) Σ_t p_i(x_t)                                       (mean router probability)

``f`` is not differentiable (a count); the gradient flows through ``P``, pushing probability
away from experts that receive many tokens. At perfect balance (f = P = 1/E) the loss is α,
its minimum over balanced routings; Switch uses α = 0.01.

Router z-loss (Zoph et al., 2022, ST-MoE eq. 5) keeps the logits small, which keeps the
softmax numerically stable::

    L_z = β · (1 / T) Σ_t ( log Σ_i exp(z_{t,i}) )²                  (eq-moe-z-loss)

ST-MoE uses β = 0.001.
"""

from __future__ import annotations

import torch

from spark_edu.moe.metrics import load_fractions
from spark_edu.validation import check_float, check_integer, check_ndim, check_range


def load_balancing_loss(probs: torch.Tensor, indices: torch.Tensor, alpha: float = 0.01) -> torch.Tensor:
    """``α · E · Σ_i f_i P_i`` (eq-moe-balance-loss) from probs (T, E) and chosen indices (T, K)."""
    check_float("probs", probs)
    check_ndim("probs", probs, (2,))
    check_ndim("indices", indices, (2,))
    check_integer("indices", indices, 0, probs.shape[-1])
    check_range("alpha", alpha, 0.0)
    if indices.shape[0] != probs.shape[0]:
        raise ValueError(
            f"probs (T, E) and indices (T, K) must share T, got {tuple(probs.shape)} and {tuple(indices.shape)}"
        )
    E = probs.shape[-1]
    f = load_fractions(indices, E).to(probs.dtype)  # (E,) counts, no gradient
    P = probs.mean(dim=0)  # (E,) differentiable
    return alpha * E * (f * P).sum()


def router_z_loss(logits: torch.Tensor, beta: float = 0.001) -> torch.Tensor:
    """``β · mean_t (logsumexp_i z_{t,i})²`` (eq-moe-z-loss) for logits (T, E)."""
    check_float("logits", logits)
    check_ndim("logits", logits, (2,))
    check_range("beta", beta, 0.0)
    if logits.shape[0] == 0:
        raise ValueError("logits must hold at least one token (a mean over no tokens is undefined), got shape (0, E)")
    return beta * logits.logsumexp(dim=-1).square().mean()
