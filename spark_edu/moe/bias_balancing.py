"""Auxiliary-loss-free load balancing (Wang et al., 2024; used by DeepSeek-V3).

Dimension letters: T tokens, E experts, K experts chosen per token.

Instead of adding a loss whose gradient fights the task's, keep one bias per expert that is
added to the routing scores *only to choose* the experts, and move it after every training
step against the load error::

    I(x) = top-k indices of  p(x) + b                                  (eq-moe-bias-select)
    g_i(x) = p_i(x) / Σ_{j∈I(x)} p_j(x)   (i ∈ I(x); p without the bias)   (eq-moe-bias-gate)
    b_e ← b_e + u · sign(c̄ − c_e)                                      (eq-moe-bias-update)

with c_e the assignments expert e received in the batch and c̄ their mean T·K/E. The bias
changes *which* experts a token visits but not the weight of their answers, so the task's
gradient reaches the router unchanged, and the bias is not learned by gradient descent at all.
``u`` is the bias update speed (Wang et al. use 0.001 with sigmoid scores). Here the scores
are the softmax of the other routers, so the methods differ only in how they balance.
"""

from __future__ import annotations

import math

import torch
from spark_edu.moe.router import Router, RouterConfig, Routing, check_k, routing_for_choice
from spark_edu.validation import check_finite, check_float, check_integer, check_ndim, check_range


def biased_top_k_routing(
    logits: torch.Tensor,
    bias: torch.Tensor,
    k: int,
    capacity_factor: float | None = None,
    renormalize: bool = True,
) -> Routing:
    """Top-k of ``softmax(logits) + bias`` (eq-moe-bias-select), gated by the unbiased softmax
    (eq-moe-bias-gate). logits (T, E), bias (E,); capacity as in :func:`~spark_edu.moe.top_k_routing`."""
    check_float("logits", logits)
    check_ndim("logits", logits, (2,))
    check_finite("bias", bias)
    check_ndim("bias", bias, (1,))
    T, E = logits.shape
    if bias.shape[0] != E:
        raise ValueError(f"bias must have one entry per expert ({E}), got shape {tuple(bias.shape)}")
    check_k(k, E)
    if capacity_factor is not None:
        check_range("capacity_factor", capacity_factor, 0.0, math.inf, low_inclusive=False)
    probs = logits.softmax(dim=-1)  # (T, E)
    indices = (probs + bias).topk(k, dim=-1).indices  # (T, K) chosen by the biased score
    return routing_for_choice(logits, probs, indices, capacity_factor, renormalize)  # gates from p alone


def bias_update(bias: torch.Tensor, indices: torch.Tensor, rate: float) -> torch.Tensor:
    """``b + u · sign(c̄ − c)`` (eq-moe-bias-update) from the batch's chosen ``indices`` (T, K)."""
    check_finite("bias", bias)
    check_ndim("bias", bias, (1,))
    check_ndim("indices", indices, (2,))
    check_integer("indices", indices, 0, bias.shape[0])
    check_range("rate", rate, 0.0)
    counts = torch.bincount(indices.reshape(-1), minlength=bias.shape[0]).to(bias.dtype)  # (E,) c_e
    return bias + rate * torch.sign(counts.mean() - counts)  # (E,)


class BiasBalancedRouter(Router):
    """The linear gate of :class:`~spark_edu.moe.Router`, :func:`biased_top_k_routing`, and a
    bias buffer (E,) that every training-mode forward moves by :func:`bias_update` (rate ``rate``).

    The update runs inside ``forward`` (one forward per training step, as in the chapter), on the
    routing it just made, so the next batch sees the moved bias. Evaluation leaves it alone.
    """

    def __init__(self, config: RouterConfig, rate: float = 1e-3):
        if config.noise > 0:
            raise ValueError(f"noise must be 0 for bias-balanced routing (noisy top-k only), got {config.noise}")
        check_range("rate", rate, 0.0)
        super().__init__(config)
        self.rate = rate
        self.register_buffer("bias", torch.zeros(config.n_experts))
        self.bias: torch.Tensor  # (E,) a buffer: moves with .to(), saved in the state dict, no gradient

    def route(self, logits: torch.Tensor) -> Routing:
        c = self.config
        routing = biased_top_k_routing(logits, self.bias.to(logits.dtype), c.k, c.capacity_factor, c.renormalize)
        if self.training:
            with torch.no_grad():
                self.bias.copy_(bias_update(self.bias, routing.indices, self.rate))
        return routing
