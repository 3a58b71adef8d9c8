"""Routers: which experts each token visits, and with what weight.

Dimension letters: T tokens, D model width, E experts, K experts chosen per token.

Softmax top-k router (Shazeer et al., 2017; Fedus et al., 2022)::

    p = softmax(x W_g)                                        (eq-moe-router)
    I = top-k indices of p,  g_i = p_i / Σ_{j∈I} p_j  (i ∈ I)   (eq-moe-topk)

Renormalised top-k gates ``g`` equal a softmax over the k kept logits, which is exactly
Shazeer's ``softmax(KeepTopK(H, k))``. Noisy top-k adds learned, input-dependent noise
before the choice (training only)::

    H(x) = x W_g + ε ⊙ softplus(x W_noise),   ε ~ N(0, I)         (eq-moe-noisy)

Capacity (Lepikhin et al., 2021; Fedus et al., 2022): each expert processes at most
``C = ⌈c · T · K / E⌉`` assignments (``c`` the capacity factor). Assignments claim places
rank by rank (every token's first choice, in token order, before any second choice); an
assignment that finds its expert full is *dropped*: its gate becomes 0 and the token keeps
only its residual path. Gates are not renormalised after dropping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spark_edu.validation import check_float, check_input, check_integer, check_ndim, check_positive_int, check_range


@dataclass(frozen=True)
class Routing:
    """The router's decision for T tokens.

    logits (T, E) the scores fed to the softmax (noisy ones in training); probs (T, E) their
    softmax; indices (T, K) chosen experts, best first; gates (T, K) combine weights, zero
    where dropped; kept (T, K) True where the expert had room; capacity: C, or None.
    """

    logits: torch.Tensor
    probs: torch.Tensor
    indices: torch.Tensor
    gates: torch.Tensor
    kept: torch.Tensor
    capacity: int | None = None

    @property
    def n_experts(self) -> int:
        return self.probs.shape[-1]

    @property
    def k(self) -> int:
        return self.indices.shape[-1]


def check_k(k: int, n_experts: int) -> None:
    """k must be an integer in [1, n_experts]."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n_experts:
        raise ValueError(f"k must be an integer in [1, {n_experts}] (the number of experts), got {k!r}")


def expert_capacity(n_tokens: int, n_experts: int, k: int, capacity_factor: float) -> int:
    """``C = ⌈capacity_factor · T · K / E⌉``: places per expert (eq-moe-capacity)."""
    check_positive_int("n_tokens", n_tokens, minimum=0)
    check_positive_int("n_experts", n_experts)
    check_k(k, n_experts)
    check_range("capacity_factor", capacity_factor, 0.0, math.inf, low_inclusive=False)
    return math.ceil(capacity_factor * n_tokens * k / n_experts)


def capacity_mask(indices: torch.Tensor, n_experts: int, capacity: int) -> torch.Tensor:
    """(T, K) bool: True where the assignment gets one of its expert's ``capacity`` places.

    Places go rank by rank, then token by token (all first choices before second choices).
    """
    check_ndim("indices", indices, (2,))
    check_integer("indices", indices, 0, n_experts)
    check_positive_int("capacity", capacity, minimum=0)
    T, K = indices.shape
    rank_major = indices.t().reshape(-1)  # (K*T,) first choices of all tokens, then second ...
    onehot = F.one_hot(rank_major, n_experts)  # (K*T, E)
    position = ((onehot.cumsum(dim=0) - 1) * onehot).sum(dim=-1)  # (K*T,) place in its expert's queue
    return (position < capacity).reshape(K, T).t()  # (T, K)


def top_k_routing(
    logits: torch.Tensor, k: int, capacity_factor: float | None = None, renormalize: bool = True
) -> Routing:
    """Softmax top-k routing of ``logits`` (T, E), eq-moe-router and eq-moe-topk.

    ``renormalize=True`` rescales the k chosen probabilities to sum to 1 (GShard, Mixtral);
    ``False`` keeps the raw softmax probabilities (Switch with k = 1). With a
    ``capacity_factor``, over-full experts drop assignments (gate 0, ``kept`` False).
    """
    check_float("logits", logits)
    check_ndim("logits", logits, (2,))
    T, E = logits.shape
    check_k(k, E)
    if capacity_factor is not None:
        check_range("capacity_factor", capacity_factor, 0.0, math.inf, low_inclusive=False)
    probs = logits.softmax(dim=-1)  # (T, E)
    indices = probs.topk(k, dim=-1).indices  # (T, K)
    return routing_for_choice(logits, probs, indices, capacity_factor, renormalize)


def routing_for_choice(
    logits: torch.Tensor,
    probs: torch.Tensor,
    indices: torch.Tensor,
    capacity_factor: float | None = None,
    renormalize: bool = True,
) -> Routing:
    """The :class:`Routing` of experts already chosen: gates from ``probs`` (T, E) at
    ``indices`` (T, K), renormalised or not (eq-moe-topk), then capacity and dropping.

    Shared by every token-choice router (:func:`top_k_routing`, and
    :mod:`~spark_edu.moe.bias_balancing`, which chooses by a biased score but gates by ``probs``).
    """
    T, E = probs.shape
    top_p = probs.gather(1, indices)  # (T, K)
    gates = top_p / top_p.sum(dim=-1, keepdim=True) if renormalize else top_p  # (T, K)
    kept = torch.ones_like(indices, dtype=torch.bool)  # (T, K)
    capacity = None
    if capacity_factor is not None:
        capacity = expert_capacity(T, E, indices.shape[1], capacity_factor)
        kept = capacity_mask(indices, E, capacity)  # (T, K)
        gates = gates * kept  # (T, K) dropped assignments contribute nothing
    return Routing(logits, probs, indices, gates, kept, capacity)


@dataclass(frozen=True)
class RouterConfig:
    d_model: int = 32
    n_experts: int = 8
    k: int = 2
    capacity_factor: float | None = None  # None: no capacity limit, nothing is dropped
    noise: float = 0.0  # 0: plain top-k; > 0: noisy top-k, ε scaled by this (1.0 = Shazeer)
    renormalize: bool = True  # k=1: use False (Switch); a renormalised top-1 gate is always 1, no gradient

    def __post_init__(self):
        check_positive_int("d_model", self.d_model)
        check_positive_int("n_experts", self.n_experts)
        check_k(self.k, self.n_experts)
        if self.capacity_factor is not None:
            check_range("capacity_factor", self.capacity_factor, 0.0, math.inf, low_inclusive=False)
        check_range("noise", self.noise, 0.0)


class Router(nn.Module):
    """A linear gate ``x W_g`` (plus noisy top-k noise in training) and :func:`top_k_routing`."""

    def __init__(self, config: RouterConfig):
        super().__init__()
        self.config = config
        self.gate = nn.Linear(config.d_model, config.n_experts, bias=False)
        self.noise_gate = None
        if config.noise > 0:
            self.noise_gate = nn.Linear(config.d_model, config.n_experts, bias=False)
            nn.init.zeros_(self.noise_gate.weight)  # Shazeer et al.: start from softplus(0) noise

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Routing:
        """x (T, D) -> :class:`Routing`. Noise is drawn from ``generator`` in training mode."""
        return self.route(self.scores(x, generator))

    def route(self, logits: torch.Tensor) -> Routing:
        """The choice made from the scores (T, E): :func:`top_k_routing` here; other routers
        (:mod:`~spark_edu.moe.expert_choice`, :mod:`~spark_edu.moe.bias_balancing`) override it."""
        c = self.config
        return top_k_routing(logits, c.k, c.capacity_factor, c.renormalize)

    def scores(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x (T, D) -> logits (T, E): ``x W_g``, plus eq-moe-noisy noise in training."""
        check_input("x", x, self.gate.weight)
        check_ndim("x", x, (2,))
        if x.shape[-1] != self.config.d_model:
            raise ValueError(f"x must have last dimension d_model={self.config.d_model}, got {tuple(x.shape)}")
        logits = self.gate(x)  # (T, E)
        if self.noise_gate is not None and self.training:
            eps = torch.randn(logits.shape, generator=generator, device=x.device, dtype=x.dtype)  # (T, E)
            logits = logits + self.config.noise * eps * F.softplus(self.noise_gate(x))  # (T, E) eq-moe-noisy
        return logits
