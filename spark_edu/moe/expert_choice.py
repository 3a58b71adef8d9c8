"""Expert-choice routing (Zhou et al., 2022): experts pick their tokens, not tokens their experts.

Dimension letters: T tokens, D model width, E experts, C tokens per expert.

The router scores every (token, expert) pair with a softmax over experts, as top-k does; then
each *expert* takes the C tokens that score it highest::

    S = softmax(x W_g)                    (T, E)                        (eq-moe-ec-scores)
    I_e = top-C tokens of column S[:, e],  C = ⌈c · T · K / E⌉            (eq-moe-ec-choice)
    y_t = Σ_{e : t ∈ I_e} S[t, e] · Expert_e(x_t)                        (eq-moe-ec-combine)

C is the capacity of eq-moe-capacity (``c`` the capacity factor, 1 by default), so K is the
average number of experts per token (Zhou et al.'s capacity factor is our ``c · K``) and the
expert buffers are those of top-K routing at the same capacity. Every expert receives exactly
C tokens: the load is balanced by construction, with no auxiliary loss. The price: a token may
be taken by several experts, by one, or by none (it then passes only through the residual),
and the choice of one token depends on the whole batch, so it cannot be made token by token
in causal decoding. Gates are the scores themselves, not renormalised.

The result is a :class:`~spark_edu.moe.Routing` over K = E slots per token: ``indices[t]`` is
``0 … E−1``, ``kept[t, e]`` says whether expert e took token t, ``gates`` are zero elsewhere,
so every dispatch path of :mod:`~spark_edu.moe.dispatch` runs it unchanged.
"""

from __future__ import annotations

import math

import torch

from spark_edu.moe.router import Router, RouterConfig, Routing, expert_capacity
from spark_edu.validation import check_float, check_ndim, check_positive_int, check_range


def expert_choice_routing(logits: torch.Tensor, k: int = 2, capacity_factor: float | None = None) -> Routing:
    """Expert-choice routing of ``logits`` (T, E), eq-moe-ec-scores to eq-moe-ec-combine.

    Each expert takes its ``C = min(T, ⌈c · T · k / E⌉)`` best-scoring tokens (``c`` =
    ``capacity_factor``, 1 if None); ``k`` is the average number of experts per token and may
    exceed nothing but E. Ties go to the lower token index.
    """
    check_float("logits", logits)
    check_ndim("logits", logits, (2,))
    T, E = logits.shape
    check_positive_int("k", k)
    if k > E:
        raise ValueError(f"k must be at most the number of experts {E} (an average per token), got {k}")
    if T == 0:
        raise ValueError("logits must hold at least one token: experts choose among the batch's tokens")
    c = 1.0 if capacity_factor is None else capacity_factor
    check_range("capacity_factor", c, 0.0, math.inf, low_inclusive=False)
    capacity = min(T, expert_capacity(T, E, k, c))  # C
    probs = logits.softmax(dim=-1)  # (T, E) eq-moe-ec-scores
    chosen = probs.topk(capacity, dim=0, sorted=False).indices  # (C, E) token ids per expert, eq-moe-ec-choice
    kept = torch.zeros(T, E, dtype=torch.bool, device=logits.device).scatter_(0, chosen, True)  # (T, E)
    gates = probs * kept  # (T, E) eq-moe-ec-combine: score where taken, 0 elsewhere
    indices = torch.arange(E, device=logits.device).repeat(T, 1)  # (T, E) every expert is a slot
    return Routing(logits, probs, indices, gates, kept, capacity)


def tokens_per_token(routing: Routing) -> torch.Tensor:
    """(T,) how many experts processed each token (0 = only the residual path)."""
    return routing.kept.sum(dim=-1)


class ExpertChoiceRouter(Router):
    """The linear gate of :class:`~spark_edu.moe.Router` followed by :func:`expert_choice_routing`
    (``config.k`` experts per token on average, ``config.capacity_factor`` c)."""

    def __init__(self, config: RouterConfig):
        if config.noise > 0:
            raise ValueError(f"noise must be 0 for expert-choice routing (noisy top-k only), got {config.noise}")
        super().__init__(config)

    def route(self, logits: torch.Tensor) -> Routing:
        return expert_choice_routing(logits, self.config.k, self.config.capacity_factor)
