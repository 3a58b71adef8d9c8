"""Reachability on a small directed graph listed in the input: is there a walk from s to t?

The answer is a sum over paths. With ``Adj`` the graph's adjacency matrix, ``(Adj^j)_{st}``
counts the walks of exactly ``j`` edges from s to t, and t is reachable within ``hops``
edges iff the walk count ``Σ_{j=1}^{hops} (Adj^j)_{st}`` is positive; a discounted count
over every length, ``Σ_j β^j (Adj^j)_{st}``, is Katz's index (Katz, 1953), the quantity
FK attention's resolvent computes when attention follows the edges. This is the task where
the resolvent should help if it helps anywhere.

Each example draws ``n_edges`` distinct directed edges among ``n_nodes`` nodes (no self
loops), lists them in a random order, one token per edge (token ``src · N + dst``), then one
query token naming the pair (token ``N² + s · N + t``). The label (read at the last
position, every other position ignored) is balanced: with probability 1/2 the target t
lies at a shortest distance of **exactly** ``hops`` edges from s (label 1: a walk of
``hops`` edges exists and no shorter one), otherwise t is **not reachable** from s at any
length (label 0). So one look-up never suffices for a positive (no edge s → t exists when
``hops ≥ 2``), and a model that knew the graph's full reachability would be exact.
Examples whose start has no node at distance ``hops`` or no unreachable node are redrawn.

**Degree-matched negatives** (``matched=True``). With free negatives a model can score well
without reading a path: every positive target has an incoming edge, many unreachable ones have
none (:func:`in_degree_rule`). In the matched task each example's graph offers a *pair* of
candidate targets with the same in-degree and the same out-degree, one at distance ``hops``
and one unreachable; the label picks which is asked. Any rule that looks only at the target's
own edges (its degrees) is then at chance, and only the paths from s decide.

Worked example (``n_nodes=4``, ``n_edges=3``, ``hops=2``; vocabulary 16 + 16 = 32 tokens,
length 3 + 1 = 4):

    edges drawn:  0→2, 2→1, 3→0              (node 1 is 2 edges from 0; node 3 unreachable)
    edges, shuffled:  2→1, 3→0, 0→2          → tokens 2·4+1=9, 3·4+0=12, 0·4+2=2
    query (s, t) = (0, 1)                    → token 16 + 0·4 + 1 = 17
    input  [9, 12, 2, 17]
    target 1                                 (walks 0→1 of 1 edge: 0, of 2 edges: 1)
    with t = 3 instead: query token 19, target 0 (no walk 0→3 of any length)

Chance is 1/2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.validation import check_integer, check_ndim, check_positive_int


@dataclass(frozen=True)
class ReachabilityConfig:
    n_nodes: int = 8
    n_edges: int = 8
    hops: int = 2  # positives lie exactly this many edges from the start
    matched: bool = False  # negatives with the same in- and out-degree as a positive of the same graph

    def __post_init__(self):
        check_positive_int("n_nodes", self.n_nodes, minimum=3)
        check_positive_int("hops", self.hops)
        if self.hops > self.n_nodes - 2:
            raise ValueError(f"hops must be <= n_nodes - 2 = {self.n_nodes - 2} (a path and an unreachable node)")
        if not self.hops <= self.n_edges <= (self.n_nodes - 1) ** 2:
            raise ValueError(
                f"n_edges must lie in [hops, (n_nodes - 1)²] = [{self.hops}, {(self.n_nodes - 1) ** 2}] so a "
                f"{self.hops}-edge path and an unreachable node can both exist, got {self.n_edges}"
            )

    @property
    def vocab_size(self) -> int:
        return 2 * self.n_nodes * self.n_nodes

    @property
    def seq_len(self) -> int:
        return self.n_edges + 1


def adjacency(tokens: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """(B, N, N) 0/1 adjacency matrices of the edge tokens (every position but the last)."""
    check_ndim("tokens", tokens, (2,))
    check_integer("tokens", tokens, 0, 2 * n_nodes * n_nodes)
    edges = tokens[:, :-1]  # (B, M)
    adj = torch.zeros(tokens.shape[0], n_nodes * n_nodes, dtype=torch.long)
    adj.scatter_(1, edges, 1)
    return adj.view(-1, n_nodes, n_nodes)  # (B, N, N)


def walk_counts(adj: torch.Tensor, max_length: int) -> torch.Tensor:
    """(B, L, N, N): entry [b, j - 1, s, t] counts the walks of exactly j edges, j = 1 … L (``Adj^j``)."""
    check_positive_int("max_length", max_length)
    counts, power = [], adj
    for _ in range(max_length):
        counts.append(power)
        power = power @ adj  # (B, N, N) one more edge on every walk
    return torch.stack(counts, dim=1)


def distances_from(adj: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """(B, N) shortest walk length from ``start`` to every node (0 at the start, N if unreachable)."""
    B, N, _ = adj.shape
    step = adj.float()  # (B, N, N)
    frontier = torch.nn.functional.one_hot(start, N).float()[:, None]  # (B, 1, N) walks of length 0
    dist = torch.where(frontier[:, 0].bool(), 0, N)  # (B, N)
    for j in range(1, N):
        frontier = ((frontier @ step) > 0).float()  # (B, 1, N) reachable by a walk of exactly j edges
        dist = torch.where(frontier[:, 0].bool() & (dist == N), j, dist)
    return dist


def _draw(batch: int, config: ReachabilityConfig, generator: torch.Generator):
    N, M = config.n_nodes, config.n_edges
    pairs = torch.tensor([s * N + d for s in range(N) for d in range(N) if s != d])  # (N(N-1),) no self loops
    pick = torch.argsort(torch.rand(batch, pairs.numel(), generator=generator), dim=-1)[:, :M]  # (B, M) distinct
    edges = pairs[pick]  # (B, M) tokens src·N + dst, in random order
    adj = torch.zeros(batch, N * N, dtype=torch.long).scatter_(1, edges, 1).view(batch, N, N)
    start = torch.randint(0, N, (batch,), generator=generator)  # (B,)
    dist = distances_from(adj, start)  # (B, N)
    return edges, start, dist


def _matched_pairs(edges: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, n_nodes: int):
    """(B, N·N) candidate pairs (p, q): p a positive, q a negative with p's in- and out-degree."""
    adj = torch.zeros(len(edges), n_nodes * n_nodes, dtype=torch.long).scatter_(1, edges, 1).view(-1, n_nodes, n_nodes)
    degrees = adj.sum(dim=1) * n_nodes + adj.sum(dim=2)  # (B, N) in-degree · N + out-degree, one number per node
    same = degrees[:, :, None] == degrees[:, None, :]  # (B, N, N) [b, p, q]
    return (positive[:, :, None] & negative[:, None, :] & same).flatten(1)


MAX_DRAWS = 100_000  # graphs drawn before a configuration that accepts none is called impossible


def sample(batch: int, config: ReachabilityConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` examples: tokens (B, M + 1) int64 and labels (B,) int64 in {0, 1}, half of each on average."""
    check_positive_int("batch", batch)
    N = config.n_nodes
    parts, have, draws = [], 0, 0
    while have < batch:
        if draws >= MAX_DRAWS and not have:
            raise ValueError(
                f"no graph of {config} was accepted in {draws} draws: with matched={config.matched} the "
                "configuration admits (almost) no example; use more nodes or more edges"
            )
        edges, start, dist = _draw(2 * batch, config, generator)
        draws += 2 * batch
        positive, negative = dist == config.hops, dist == N  # (B', N) candidate targets
        pairs = _matched_pairs(edges, positive, negative, N) if config.matched else None
        ok = pairs.any(-1) if config.matched else positive.any(-1) & negative.any(-1)
        edges, start, positive, negative = edges[ok], start[ok], positive[ok], negative[ok]
        label = (torch.rand(len(start), generator=generator) < 0.5).long()  # (B',)
        if config.matched:  # one pair uniformly, then its positive or its negative
            pair = torch.multinomial(pairs[ok].float(), 1, generator=generator)[:, 0]  # (B',) index p·N + q
            target = torch.where(label.bool(), pair // N, pair % N)
        else:
            allowed = torch.where(label[:, None].bool(), positive, negative).float()  # (B', N)
            target = torch.multinomial(allowed, 1, generator=generator)[:, 0]  # (B',) uniform among the allowed
        query = N * N + start * N + target
        parts.append((torch.cat([edges, query[:, None]], dim=1), label))
        have += len(label)
    tokens = torch.cat([p[0] for p in parts])[:batch]
    labels = torch.cat([p[1] for p in parts])[:batch]
    return tokens, labels


def decode(tokens: torch.Tensor, n_nodes: int) -> tuple[list[tuple[int, int]], int, int]:
    """One example's edges ``[(src, dst), …]`` and its query ``(s, t)``, for printing."""
    ids = tokens.tolist()
    query = ids[-1] - n_nodes * n_nodes
    return [(t // n_nodes, t % n_nodes) for t in ids[:-1]], query // n_nodes, query % n_nodes


def in_degree_rule(tokens: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """A shortcut a model can learn instead of reachability: answer 1 iff the target t has an
    incoming edge (B,). Every positive has one, so the rule errs only on the negatives whose t
    has one too; its held-out accuracy is the level below which a model need not read any path."""
    adj = adjacency(tokens, n_nodes)  # (B, N, N)
    target = (tokens[:, -1] - n_nodes * n_nodes) % n_nodes  # (B,)
    return (adj[torch.arange(tokens.shape[0]), :, target].sum(dim=-1) > 0).long()
