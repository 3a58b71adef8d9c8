"""Shared experts (DeepSeekMoE, Dai et al., 2024): a few experts every token visits.

Dimension letters: T tokens, D model width, S shared experts.

Beside the E routed experts, S shared experts process every token, with weight 1::

    y = Σ_{s=1}^{S} Expert^shared_s(x) + Σ_{i ∈ I(x)} g_i(x) · Expert_i(x)      (eq-moe-shared)

Knowledge every token needs (here: nothing category-specific; in a language model, common
syntax) goes to the shared experts once instead of being copied into every routed one, which
leaves the routed experts free to specialise. At equal compute a layer with one shared expert
routes one expert fewer per token (DeepSeekMoE keeps the active parameters fixed).
"""

from __future__ import annotations

import torch
from torch import nn

from spark_edu.moe.dispatch import Experts
from spark_edu.validation import check_input, check_ndim, check_positive_int


class SharedExperts(nn.Module):
    """S expert MLPs (the :class:`~spark_edu.moe.Experts` of the routed ones) applied to every
    token and summed: the first sum of eq-moe-shared. x (T, D) -> (T, D)."""

    def __init__(self, n_shared: int, d_model: int, d_hidden: int):
        super().__init__()
        check_positive_int("n_shared", n_shared)
        self.experts = Experts(n_shared, d_model, d_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input("x", x, self.experts.w1)
        check_ndim("x", x, (2,))
        if x.shape[1] != self.experts.w1.shape[1]:
            raise ValueError(f"x must have last dimension {self.experts.w1.shape[1]}, got {x.shape[1]}")
        return self.experts.all_experts(x).sum(dim=0)  # (S, T, D) -> (T, D)
