"""Pointer chasing on a random cycle: follow ``hops`` arrows from a start node.

Each example draws a random cyclic order of ``n_nodes`` nodes, so every node has exactly
one successor ``f(x)`` and the k-hop answer ``f^k(start)`` is well defined and differs from
the start for every k < n_nodes. The arrows are listed in a random order, one token per
arrow (token ``src · N + dst``), and a final query token names the start node
(token ``N² + start``). The label is ``f^hops(start)``, read from the last position; every
other position is ignored by the loss.

Worked example (``n_nodes=4``, ``hops=2``; vocabulary 4² + 4 = 20 tokens, length N + 1 = 5):

    cycle drawn:  2 → 0 → 3 → 1 → 2          (f(2)=0, f(0)=3, f(3)=1, f(1)=2)
    arrows, shuffled:  3→1, 2→0, 1→2, 0→3   → tokens 3·4+1=13, 2·4+0=8, 1·4+2=6, 0·4+3=3
    query: start 2                          → token 16 + 2 = 18
    input  [13, 8, 6, 3, 18]
    target f(f(2)) = f(0) = 3               (chance level 1/4; 1/3 for a model that knows
                                             the answer is never the start itself)

One hop needs one look-up (find the arrow leaving the start); k hops need k look-ups in
sequence, which is what a single softmax attention layer cannot compose. Sanford, Hsu &
Telgarsky (2023) study such compositions; the k-hop induction-head literature uses variants.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.validation import check_integer, check_ndim, check_positive_int


@dataclass(frozen=True)
class PointerChasingConfig:
    n_nodes: int = 8
    hops: int = 1

    def __post_init__(self):
        check_positive_int("n_nodes", self.n_nodes, minimum=2)
        check_positive_int("hops", self.hops)
        if self.hops >= self.n_nodes:
            raise ValueError(
                f"hops must be < n_nodes ({self.n_nodes}) so the answer differs from the start, got {self.hops}"
            )

    @property
    def vocab_size(self) -> int:
        return self.n_nodes * self.n_nodes + self.n_nodes

    @property
    def seq_len(self) -> int:
        return self.n_nodes + 1


def random_successors(batch: int, n_nodes: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, N) successor tables ``f``, each a single random cycle through all N nodes."""
    order = torch.argsort(torch.rand(batch, n_nodes, generator=generator), dim=-1)  # (B, N) a random cyclic order
    succ = torch.empty_like(order)
    succ.scatter_(1, order, order.roll(-1, dims=1))  # f(order[i]) = order[i + 1]
    return succ


def follow(succ: torch.Tensor, start: torch.Tensor, hops: int) -> torch.Tensor:
    """``f^hops(start)`` for each row: (B, N) tables, (B,) starts -> (B,) nodes."""
    check_ndim("succ", succ, (2,))
    check_integer("succ", succ, 0, succ.shape[1])
    check_ndim("start", start, (1,))
    check_integer("start", start, 0, succ.shape[1])
    check_positive_int("hops", hops, minimum=0)
    if start.shape[0] != succ.shape[0]:
        raise ValueError(f"succ (B, N) and start (B,) must share B, got {tuple(succ.shape)} and {tuple(start.shape)}")
    node = start
    for _ in range(hops):
        node = succ.gather(1, node[:, None])[:, 0]
    return node


def sample(batch: int, config: PointerChasingConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` examples: tokens (B, N + 1) int64 and targets (B,) int64 in [0, N)."""
    check_positive_int("batch", batch)
    N = config.n_nodes
    succ = random_successors(batch, N, generator)  # (B, N)
    src = torch.argsort(torch.rand(batch, N, generator=generator), dim=-1)  # (B, N) arrows in random order
    arrows = src * N + succ.gather(1, src)  # (B, N) token src·N + f(src)
    start = torch.randint(0, N, (batch,), generator=generator)  # (B,)
    tokens = torch.cat([arrows, (N * N + start)[:, None]], dim=1)  # (B, N + 1)
    return tokens, follow(succ, start, config.hops)


def decode(tokens: torch.Tensor, n_nodes: int) -> tuple[list[tuple[int, int]], int]:
    """One example's arrows ``[(src, dst), …]`` and start node, for printing."""
    ids = tokens.tolist()
    return [(t // n_nodes, t % n_nodes) for t in ids[:-1]], ids[-1] - n_nodes * n_nodes
