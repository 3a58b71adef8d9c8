"""Expert parallelism: the MoE layer spread over W processes, each holding E/W experts.

Dimension letters: T tokens on this rank, D model width, F expert hidden width, E experts,
K choices, W ranks in the group, E_l = E / W experts per rank, A kept assignments sent by
this rank, R assignments received by it.

Rank r holds experts ``r·E_l … (r+1)·E_l − 1``; the router is replicated on every rank. Each
rank routes its own tokens exactly as :class:`~spark_edu.moe.MoELayer` would (same top-k,
same renormalised gates, same capacity ``C = ⌈c · T · K / E⌉`` over this rank's T tokens),
then (GShard, Lepikhin et al., 2021; DeepSpeed-MoE, Rajbhandari et al., 2022)::

    1. count:    n[r → j, e] = #kept assignments of rank r's tokens to expert e on rank j
    2. exchange the counts (all_to_all, W × (E_l + 1) integers, one column is an "input ok" flag)
    3. dispatch: all_to_all of the A token activations, split sizes Σ_e n[r → j, e]
    4. compute:  each local expert on the tokens it received, from every rank
    5. return:   the reverse all_to_all sends every output back to its token's rank
    6. combine:  y_t = Σ_{k : kept} g_{t,k} · Expert_{i_{t,k}}(x_t)         (eq-moe-combine)

The all_to_all is linear, and its adjoint is the all_to_all with send and receive sizes
swapped: :class:`AllToAll`'s backward does exactly that, so gradients reach the input, the
router and the experts on whichever rank they live. The router's gradient on each rank
comes from that rank's tokens only; sum it over ranks like a data-parallel weight
(:meth:`ExpertParallelMoE.reduce_router_grads`). Every rank must run forward *and*
backward through the layer together: each one is a collective.

Cost model (:func:`exchange_bytes`): with routing uniform over experts and the same T on
every rank, an assignment's expert lives on another rank with probability (W − 1)/W, its
activation travels there and its output travels back, so each rank sends::

    bytes_sent ≈ 2 · T · K · kept_fraction · (W − 1)/W · D · bytes_per_element   (eq-moe-ep-bytes)

Only activations that leave the rank count (those that stay are a local copy); the counts
exchange is reported apart as ``control_bytes``; backward sends the same amount again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from spark_edu.moe.dispatch import Experts, sort_by_expert
from spark_edu.moe.layer import MoEConfig, MoELayer, MoEOutput
from spark_edu.moe.losses import load_balancing_loss, router_z_loss
from spark_edu.moe.router import Router
from spark_edu.validation import check_positive_int, check_range

#: The MoEConfig fields every rank must agree on, in the order of the fingerprint tensor.
FINGERPRINT = (
    "d_model",
    "d_hidden",
    "n_experts",
    "k",
    "capacity_factor",
    "noise",
    "renormalize",
    "balance_alpha",
    "z_beta",
)


def exchange_bytes(
    tokens: int, k: int, d_model: int, bytes_per_element: int, world_size: int, kept_fraction: float = 1.0
) -> float:
    """Expected activation bytes one rank sends per forward of one layer (eq-moe-ep-bytes).

    ``tokens`` is T on this rank; dispatch and return both count; assignments whose expert
    is on this rank count zero. Assumes routing uniform over experts, T equal on all ranks.
    """
    check_positive_int("tokens", tokens, minimum=0)
    check_positive_int("k", k)
    check_positive_int("d_model", d_model)
    check_positive_int("bytes_per_element", bytes_per_element)
    check_positive_int("world_size", world_size)
    check_range("kept_fraction", kept_fraction, 0.0, 1.0)
    return 2.0 * tokens * k * kept_fraction * (world_size - 1) / world_size * d_model * bytes_per_element


@dataclass(frozen=True)
class ExchangeStats:
    """What one forward moved. bytes count activations that left / reached this rank
    (dispatch + return; equal to each other, since the return mirrors the dispatch);
    control_bytes the counts exchange; tokens_to_rank / tokens_from_rank (W,) assignments."""

    bytes_sent: int
    bytes_received: int
    control_bytes: int
    tokens_to_rank: tuple[int, ...]
    tokens_from_rank: tuple[int, ...]


@dataclass(frozen=True)
class PhaseTimes:
    """Seconds spent in one forward: routing (router, sort, counts), exchange (the three
    all_to_alls, including waiting for slower ranks), experts (permute + MLPs), combine."""

    routing_s: float
    exchange_s: float
    experts_s: float
    combine_s: float

    @property
    def total_s(self) -> float:
        return self.routing_s + self.exchange_s + self.experts_s + self.combine_s


class AllToAll(torch.autograd.Function):
    """Uneven all_to_all of rows; backward is the reverse all_to_all (its adjoint).

    ``x`` (sum(in_splits), ...) -> (sum(out_splits), ...): rows ``in_splits[j]`` go to rank j,
    rows ``out_splits[i]`` arrive from rank i, in rank order.
    """

    @staticmethod
    def forward(ctx, x, out_splits: list[int], in_splits: list[int], group):
        ctx.splits, ctx.group = (out_splits, in_splits), group
        out = x.new_empty((sum(out_splits), *x.shape[1:]))
        dist.all_to_all_single(out, x.contiguous(), out_splits, in_splits, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        out_splits, in_splits = ctx.splits
        grad_in = grad.new_empty((sum(in_splits), *grad.shape[1:]))
        dist.all_to_all_single(grad_in, grad.contiguous(), in_splits, out_splits, group=ctx.group)
        return grad_in, None, None, None


class _Stopwatch:
    def __init__(self, on: bool, device: torch.device):
        self.on, self.device, self.seconds = on, device, {}
        self._sync()
        self.last = time.perf_counter()

    def _sync(self):
        if self.on and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def lap(self, phase: str) -> None:
        if self.on:
            self._sync()
            now = time.perf_counter()
            self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self.last
            self.last = now


def _input_problem(x, d_model: int, weight: torch.Tensor) -> str | None:
    if not torch.is_tensor(x) or x.dim() < 1 or x.shape[-1] != d_model:
        return f"x must be a tensor of shape (..., {d_model}), got {tuple(getattr(x, 'shape', ()))}"
    if x.dtype != weight.dtype or x.device != weight.device:
        return f"x must have dtype {weight.dtype} on {weight.device} like the layer, got {x.dtype} on {x.device}"
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        return "x contains NaN or infinite values; all entries must be finite"
    return None


class ExpertParallelMoE(nn.Module):
    """The MoE layer over a process group; ``forward(x (..., D)) -> MoEOutput`` for this rank's x.

    Constructing it is a collective: every rank of ``group`` (None: the default group) must
    build one, with the same ``config``; ranks compare a fingerprint of it and all raise
    ``ValueError`` on a mismatch or when W does not divide n_experts. Without an initialised
    process group it runs alone (W = 1). ``config.dispatch`` is ignored: local experts run on
    contiguous slices like ``dispatch_sorted``. Set ``timed`` for :attr:`last_timings`.
    """

    def __init__(self, config: MoEConfig | None = None, group=None, timed: bool = False, device=None, dtype=None):
        super().__init__()
        config = MoEConfig() if config is None else config
        if config.router != "top_k" or config.shared_experts:  # what this layer implements
            raise ValueError(f"expert parallelism needs router='top_k', shared_experts=0, got {config}")
        self.config, self.group, self.timed = config, group, timed
        self.distributed = dist.is_available() and dist.is_initialized()
        if group is not None and not self.distributed:
            raise ValueError("group was given but torch.distributed is not initialised")
        self.world_size = dist.get_world_size(group) if self.distributed else 1
        self.rank = dist.get_rank(group) if self.distributed else 0
        if self.rank < 0:
            raise ValueError("this process is not a member of group; build the layer only on the group's ranks")
        self.router = Router(config.router_config).to(device=device, dtype=dtype)
        device = self.router.gate.weight.device
        if self.distributed:
            self._agree_on_config(device)
        E, W = config.n_experts, self.world_size
        if E % W:
            raise ValueError(
                f"n_experts={E} must be divisible by the expert-parallel world size {W} "
                f"(each rank holds n_experts / world_size experts)"
            )
        self.n_local = E // W  # E_l
        self.first_expert = self.rank * self.n_local  # this rank holds experts first … first + E_l − 1
        self.experts = Experts(self.n_local, config.d_model, config.d_hidden).to(device=device, dtype=dtype)
        if self.distributed:  # replicate the router: everyone starts from group rank 0's weights
            for p in self.router.parameters():
                dist.broadcast(p.data, src=dist.get_global_rank(group or dist.group.WORLD, 0), group=group)
        self.last_exchange: ExchangeStats | None = None
        self.last_timings: PhaseTimes | None = None

    def _agree_on_config(self, device: torch.device) -> None:
        c = self.config
        values = [-1.0 if getattr(c, f) is None else float(getattr(c, f)) for f in FINGERPRINT]
        mine = torch.tensor(values, dtype=torch.float64, device=device)  # (len(FINGERPRINT),)
        rows = [torch.empty_like(mine) for _ in range(self.world_size)]
        dist.all_gather(rows, mine, group=self.group)  # every rank sees every rank's config
        table = torch.stack(rows)  # (W, len(FINGERPRINT))
        differ = [(f, table[:, i].tolist()) for i, f in enumerate(FINGERPRINT) if len(set(table[:, i].tolist())) > 1]
        if differ:
            detail = "; ".join(f"{f} per rank {v}" for f, v in differ)
            raise ValueError(
                f"the MoE configuration differs across the ranks of the group: {detail} "
                f"(-1 stands for None); every rank must build the layer with the same config"
            )

    @classmethod
    def from_layer(cls, layer: MoELayer, group=None, timed: bool = False) -> ExpertParallelMoE:
        """This rank's share of a single-process ``layer``: its router, and experts r·E_l … ."""
        w = layer.router.gate.weight
        ep = cls(layer.config, group, timed, device=w.device, dtype=w.dtype)
        ep.router.load_state_dict(layer.router.state_dict())
        ep.train(layer.training)
        s = slice(ep.first_expert, ep.first_expert + ep.n_local)
        with torch.no_grad():
            for name in ("w1", "b1", "w2", "b2"):
                getattr(ep.experts, name).copy_(getattr(layer.experts, name)[s])
        return ep

    def _exchange(self, x: torch.Tensor, out_splits: list[int], in_splits: list[int]) -> torch.Tensor:
        return AllToAll.apply(x, out_splits, in_splits, self.group) if self.distributed else x

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> MoEOutput:
        """This rank's x (..., D) -> MoEOutput. A collective: every rank calls it (T may differ)."""
        c, W, El = self.config, self.world_size, self.n_local
        device = self.router.gate.weight.device
        problem = _input_problem(x, c.d_model, self.router.gate.weight)
        if problem is not None:  # still take part in the counts exchange, so the other ranks hear of it
            if not self.distributed:
                raise ValueError(problem)
            counts = [0] * c.n_experts
        clock = _Stopwatch(self.timed, device)
        if problem is None:
            flat = x.reshape(-1, c.d_model)  # (T, D)
            routing = self.router(flat, generator)
            token, gate, counts = sort_by_expert(routing)  # (A,), (A,), E ints: sorted by expert, so by rank
        send = torch.tensor(counts, dtype=torch.int64, device=device).reshape(W, El)  # (W, E_l) n[me → j, e]
        flag = torch.full((W, 1), int(problem is None), dtype=torch.int64, device=device)  # 1: my input is fine
        send = torch.cat([send, flag], dim=1)  # (W, E_l + 1)
        clock.lap("routing")
        recv = torch.empty_like(send)  # (W, E_l + 1) n[i → me, e] and rank i's flag
        if self.distributed:
            dist.all_to_all_single(recv, send, group=self.group)
        else:
            recv.copy_(send)
        if problem is not None:
            raise ValueError(problem)
        bad = [i for i, ok in enumerate(recv[:, -1].tolist()) if not ok]
        if bad:
            raise ValueError(f"rank(s) {bad} of the group rejected their input to the MoE layer (see their error)")
        recv_counts = recv[:, :El]  # (W, E_l)
        send_splits, recv_splits = send[:, :El].sum(1).tolist(), recv_counts.sum(1).tolist()  # W ints each
        xs = flat.index_select(0, token)  # (A, D) grouped by destination rank, then expert
        xr = self._exchange(xs, recv_splits, send_splits)  # (R, D) grouped by source rank, then expert
        clock.lap("exchange")
        local = torch.arange(El, device=device).repeat(W).repeat_interleave(recv_counts.reshape(-1))  # (R,)
        order = torch.argsort(local, stable=True)  # (R,) expert-major: each local expert's rows contiguous
        chunks = xr.index_select(0, order).split(recv_counts.sum(0).tolist())  # E_l chunks (n_e, D)
        ys = torch.cat([self.experts.expert(e, chunk) for e, chunk in enumerate(chunks)])  # (R, D)
        yr = ys.index_select(0, torch.argsort(order))  # (R, D) back in arrival order
        clock.lap("experts")
        yb = self._exchange(yr, send_splits, recv_splits)  # (A, D) each output back on its token's rank
        clock.lap("exchange")
        out = torch.zeros_like(flat).index_add_(0, token, yb * gate[:, None])  # (T, D) eq-moe-combine
        aux = flat.new_zeros(())
        if c.balance_alpha > 0:
            aux = aux + load_balancing_loss(routing.probs, routing.indices, c.balance_alpha)
        if c.z_beta > 0:
            aux = aux + router_z_loss(routing.logits, c.z_beta)
        clock.lap("combine")
        row = flat.shape[1] * flat.element_size()  # bytes of one activation
        remote_out, remote_in = sum(send_splits) - send_splits[self.rank], sum(recv_splits) - recv_splits[self.rank]
        control = (W - 1) * (El + 1) * send.element_size()  # the counts rows sent to the other ranks
        moved = (remote_out + remote_in) * row  # dispatch + return, each way
        self.last_exchange = ExchangeStats(moved, moved, control, tuple(send_splits), tuple(recv_splits))
        if self.timed:
            s = clock.seconds
            self.last_timings = PhaseTimes(s["routing"], s["exchange"], s["experts"], s["combine"])
        return MoEOutput(out.reshape(x.shape), routing, aux)

    def reduce_router_grads(self) -> None:
        """Sum the replicated router's gradients over the group (call after backward)."""
        if self.distributed:
            for p in self.router.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad, group=self.group)


__all__ = ["FINGERPRINT", "AllToAll", "ExchangeStats", "ExpertParallelMoE", "PhaseTimes", "exchange_bytes"]
