"""Experts and dispatch: send each token to its chosen experts and combine the answers.

Dimension letters: T tokens, D model width, F expert hidden width, E experts, K choices,
A = number of kept assignments (≤ T·K).

Every path computes the same thing::

    y_t = Σ_{k : kept} g_{t,k} · Expert_{i_{t,k}}(x_t)                    (eq-moe-combine)
    Expert_e(x) = W2_e · gelu(W1_e x + b1_e) + b2_e

* :func:`dispatch_loop`  — the readable reference: for each expert, find its tokens with an
  index mask, run it, add the weighted answer back.
* :func:`dispatch_sorted` — the fast path: sort the assignments by expert once, gather the
  tokens into one contiguous buffer, run each expert on its contiguous slice, scatter back
  (the "permute / grouped GEMM / un-permute" of MegaBlocks, Gale et al., 2023).
* :func:`dispatch_dense` — the oracle: every expert on every token, weighted by a dense
  (T, E) gate matrix that is zero off the chosen experts. E/K times the FLOPs.
* :meth:`Experts.grouped` — the floor: tokens already grouped, equal load, one batched matmul.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spark_edu.moe.router import Routing
from spark_edu.validation import DTypeError, check_input, check_ndim, check_positive_int


class Experts(nn.Module):
    """E independent two-layer MLPs with stacked weights w1 (E, D, F), w2 (E, F, D)."""

    def __init__(self, n_experts: int, d_model: int, d_hidden: int):
        super().__init__()
        for name, value in (("n_experts", n_experts), ("d_model", d_model), ("d_hidden", d_hidden)):
            check_positive_int(name, value)
        E, D, H = n_experts, d_model, d_hidden
        self.w1 = nn.Parameter(torch.empty(E, D, H).uniform_(-1, 1) / math.sqrt(D))  # like nn.Linear
        self.b1 = nn.Parameter(torch.empty(E, H).uniform_(-1, 1) / math.sqrt(D))
        self.w2 = nn.Parameter(torch.empty(E, H, D).uniform_(-1, 1) / math.sqrt(H))
        self.b2 = nn.Parameter(torch.empty(E, D).uniform_(-1, 1) / math.sqrt(H))

    @property
    def n_experts(self) -> int:
        return self.w1.shape[0]

    def expert(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Expert e on its tokens: x (n, D) -> (n, D)."""
        h = F.gelu(torch.addmm(self.b1[e], x, self.w1[e]))  # (n, F); addmm adds the bias in the matmul's pass
        return torch.addmm(self.b2[e], h, self.w2[e])  # (n, D)

    def all_experts(self, x: torch.Tensor) -> torch.Tensor:
        """Every expert on every token: x (T, D) -> (E, T, D)."""
        h = F.gelu(torch.einsum("td,edf->etf", x, self.w1) + self.b1[:, None])  # (E, T, F)
        return torch.einsum("etf,efd->etd", h, self.w2) + self.b2[:, None]  # (E, T, D)

    def grouped(self, xg: torch.Tensor) -> torch.Tensor:
        """Tokens already grouped with equal load: xg (E, n, D) -> (E, n, D), two ``bmm``."""
        h = F.gelu(torch.bmm(xg, self.w1) + self.b1[:, None])  # (E, n, F)
        return torch.bmm(h, self.w2) + self.b2[:, None]  # (E, n, D)


def _check(x: torch.Tensor, routing: Routing, experts: Experts) -> None:
    check_input("x", x, experts.w1)
    check_ndim("x", x, (2,))
    if not isinstance(routing, Routing):
        raise DTypeError(f"routing must be a Routing (from top_k_routing or a Router), got {type(routing).__name__}")
    if routing.indices.shape[0] != x.shape[0]:
        raise ValueError(f"x has {x.shape[0]} tokens but routing has {routing.indices.shape[0]}")
    if routing.n_experts != experts.n_experts:
        raise ValueError(f"routing is over {routing.n_experts} experts, experts has {experts.n_experts}")
    if x.shape[1] != experts.w1.shape[1]:
        raise ValueError(f"x must have last dimension {experts.w1.shape[1]}, got {x.shape[1]}")


def dispatch_loop(x: torch.Tensor, routing: Routing, experts: Experts) -> torch.Tensor:
    """Reference eq-moe-combine: one pass per expert with an index mask. x (T, D) -> (T, D)."""
    _check(x, routing, experts)
    out = torch.zeros_like(x)  # (T, D)
    for e in range(experts.n_experts):
        token, slot = torch.nonzero((routing.indices == e) & routing.kept, as_tuple=True)  # (n_e,), (n_e,)
        if token.numel() == 0:
            continue
        y = experts.expert(e, x[token])  # (n_e, D)
        out.index_add_(0, token, y * routing.gates[token, slot, None])  # (T, D)
    return out


def sort_by_expert(routing: Routing) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Kept assignments sorted by expert: token ids (A,), gates (A,), count per expert (E,)."""
    T, K = routing.indices.shape
    expert = routing.indices.reshape(-1)  # (T*K,)
    token = torch.arange(T, device=expert.device).repeat_interleave(K)  # (T*K,)
    gate = routing.gates.reshape(-1)  # (T*K,)
    kept = routing.kept.reshape(-1)  # (T*K,)
    if not bool(kept.all()):
        expert, token, gate = expert[kept], token[kept], gate[kept]  # (A,)
    order = torch.argsort(expert, stable=True)  # (A,) stable: tokens stay in order within an expert
    counts = torch.bincount(expert, minlength=routing.n_experts).tolist()  # (E,)
    return token[order], gate[order], counts


def dispatch_sorted(x: torch.Tensor, routing: Routing, experts: Experts) -> torch.Tensor:
    """Fast path for eq-moe-combine: permute, run contiguous slices, un-permute. x (T, D) -> (T, D)."""
    _check(x, routing, experts)
    token, gate, counts = sort_by_expert(routing)  # (A,), (A,), E ints
    xs = x.index_select(0, token)  # (A, D) grouped by expert, contiguous
    ys = torch.empty_like(xs)  # (A, D): each expert writes its own rows, no list joined afterwards
    start = 0
    for e, count in enumerate(counts):
        ys[start : start + count] = experts.expert(e, xs[start : start + count])
        start += count
    return torch.zeros_like(x).index_add_(0, token, ys * gate[:, None])  # (T, D)


def dense_gates(routing: Routing) -> torch.Tensor:
    """(T, E) combine weights: g on chosen, kept experts, zero elsewhere."""
    T, E = routing.probs.shape
    zeros = torch.zeros(T, E, dtype=routing.gates.dtype, device=routing.gates.device)
    return zeros.scatter_add(1, routing.indices, routing.gates)  # (T, E)


def dispatch_dense(x: torch.Tensor, routing: Routing, experts: Experts) -> torch.Tensor:
    """Oracle for eq-moe-combine: all E experts on all T tokens, weighted. x (T, D) -> (T, D)."""
    _check(x, routing, experts)
    y_all = experts.all_experts(x)  # (E, T, D)
    return torch.einsum("te,etd->td", dense_gates(routing), y_all)  # (T, D)


DISPATCH = {"loop": dispatch_loop, "sorted": dispatch_sorted, "dense": dispatch_dense}
