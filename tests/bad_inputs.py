"""A table of bad calls to the public API, and how to judge what each one did.

Every case is a call a reader could plausibly make by mistake (a wrong dtype, a NaN, a wrong
shape, an empty batch, a parameter out of range). :func:`classify` sorts the outcome into

* ``clear``   — a ``ValueError`` / ``TypeError`` whose message names the user's argument;
* ``works``   — no exception, and the result passes the case's own check (every float finite,
  and whatever else the case asks: an honest cast, an empty result for an empty batch);
* ``vague``   — a ``ValueError`` / ``TypeError`` raised by spark_edu that does not name it;
* ``deep``    — any other exception, or one raised from inside torch;
* ``garbage`` — no exception but a result that fails the check (NaN, zeros, overflowing stacks).

``tests/test_bad_inputs.py`` asserts every case is clear or works; ``tools/bad_input_census.py``
prints the counts (run it against any checkout to compare before and after).
"""

from __future__ import annotations

import dataclasses
import math
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import torch

from spark_edu import fk_attention as fk
from spark_edu import moe, spd, verifier
from spark_edu.attention import attention, attention_weights, masks
from spark_edu.attention.block_sparse import block_sparse_attention
from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.gathered import gathered_block_attention
from spark_edu.attention.multihead import MultiHeadSelfAttention
from spark_edu.attention.window import sliding_window_attention
from spark_edu.spd.baselines import dct_denoise
from spark_edu.tasks import dyck, lag_copy, palindromes, pointer_chasing, signals, token_categories

CATEGORIES = ("clear", "works", "vague", "deep", "garbage")


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[], object]
    names: tuple[str, ...]  # a clear message names at least one of these
    check: Callable[[object], bool] | None = None  # None: the call must raise


def finite(result) -> bool:
    """True when every float in ``result`` (tensors, numbers, tuples, dataclasses) is finite."""
    if torch.is_tensor(result):
        return not result.is_floating_point() or bool(torch.isfinite(result).all())
    if isinstance(result, float):
        return math.isfinite(result)
    if isinstance(result, list | tuple):
        return all(finite(r) for r in result)
    if isinstance(result, dict):
        return all(finite(r) for r in result.values())
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return all(finite(getattr(result, f.name)) for f in dataclasses.fields(result))
    return True


def _names_argument(message: str, names: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names)


def classify(case: Case) -> tuple[str, str]:
    """(category, detail) for one case."""
    try:
        result = case.call()
    except (ValueError, TypeError) as error:
        message = f"{type(error).__name__}: {error}"
        if _names_argument(str(error), case.names):
            return "clear", message
        frames = traceback.extract_tb(error.__traceback__)
        ours = "spark_edu" in frames[-1].filename if frames else False
        return ("vague" if ours else "deep"), message
    except Exception as error:  # noqa: BLE001 - the census records whatever escapes
        return "deep", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if case.check is not None and case.check(result):
        return "works", "returned a sound result"
    return "garbage", "returned without an error" if case.check is None else "returned a result that fails its check"


# --- inputs ---------------------------------------------------------------------------------
def r(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def with_nan(t):
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


def with_inf(t):
    t = t.clone()
    t.view(-1)[-1] = float("inf")
    return t


def empty_ok(result) -> bool:
    """An empty batch may return empty results, never a NaN."""
    return finite(result)


CASES: list[Case] = []


def case(name, call, *names, check=None):
    CASES.append(Case(name, call, tuple(names), check))


# Tensor variants applied to one argument of a call: each is (label, transform).
VARIANTS = {
    "nan": with_nan,
    "inf": with_inf,
    "int64": lambda t: t.round().to(torch.int64),
    "float16": lambda t: t.to(torch.float16),
    "float64 beside float32": lambda t: t.to(torch.float64),
    "a list": lambda t: t.tolist(),
    "1-d": lambda t: t.reshape(-1)[:4].contiguous(),
}


def per_argument(prefix: str, fn, args: dict, targets, variants=tuple(VARIANTS)):
    """One case per (argument, variant): ``fn(**args)`` with that argument spoiled."""
    for target in targets:
        for label in variants:
            spoiled = dict(args)
            spoiled[target] = VARIANTS[label](args[target])
            case(f"{prefix}: {target} {label}", lambda s=spoiled: fn(**s), target)


# --- attention ------------------------------------------------------------------------------
Q, K, V = r(2, 5, 4, seed=1), r(2, 6, 4, seed=2), r(2, 6, 3, seed=3)
per_argument("attention", attention, {"q": Q, "k": K, "v": V}, ("q", "k", "v"))
case("attention: q float32, k float64", lambda: attention(Q, K.double(), V), "k", "q")
case("attention: mask int", lambda: attention(Q, K, V, torch.ones(5, 6, dtype=torch.int64)), "mask")
case("attention: mask wrong shape", lambda: attention(Q, K, V, torch.ones(5, 5, dtype=torch.bool)), "mask")
case("attention: mask a list", lambda: attention(Q, K, V, [[True] * 6] * 5), "mask")
case("attention: head dims differ", lambda: attention(Q, r(2, 6, 3), V), "q", "k")
case("attention: v length differs", lambda: attention(Q, K, r(2, 4, 3)), "v", "k")
case("attention: empty batch", lambda: attention(r(0, 5, 4), r(0, 6, 4), r(0, 6, 3)), "q", check=empty_ok)
per_argument("attention_weights", attention_weights, {"q": Q, "k": K}, ("q", "k"))
case("attention_weights: head dims differ", lambda: attention_weights(Q, r(2, 6, 3)), "q", "k")
case("attention_weights: batch differs", lambda: attention_weights(Q, r(3, 6, 4)), "q", "k")
case("attention_weights: mask int", lambda: attention_weights(Q, K, torch.ones(5, 6, dtype=torch.int64)), "mask")
case("attention_weights: mask wrong shape", lambda: attention_weights(Q, K, torch.ones(6, 6, dtype=torch.bool)), "mask")

S = r(1, 2, 16, 4)
case("sliding_window_attention: window 0", lambda: sliding_window_attention(S, S, S, 0), "window")
case("sliding_window_attention: q int", lambda: sliding_window_attention(S.long(), S, S, 2), "q")
case("sliding_window_attention: q float16", lambda: sliding_window_attention(S.half(), S, S, 2), "q")
case(
    "sliding_window_attention: cross lengths", lambda: sliding_window_attention(S, r(1, 2, 8, 4), r(1, 2, 8, 4), 2), "k"
)
case("sliding_window_attention: block_size 0", lambda: sliding_window_attention(S, S, S, 2, 0), "block_size")
LAYOUT = BlockLayout.from_predicate(masks.causal, 16, block_size=4)
case(
    "block_sparse_attention: wrong length",
    lambda: block_sparse_attention(r(1, 8, 4), r(1, 8, 4), r(1, 8, 4), LAYOUT),
    "layout",
    "q",
)
case("block_sparse_attention: q float16", lambda: block_sparse_attention(S.half(), S, S, LAYOUT), "q")
case("block_sparse_attention: layout a tensor", lambda: block_sparse_attention(S, S, S, torch.ones(4, 4)), "layout")
case(
    "gathered_block_attention: wrong length",
    lambda: gathered_block_attention(r(1, 8, 4), r(1, 8, 4), r(1, 8, 4), LAYOUT),
    "layout",
    "q",
)
case("gathered_block_attention: k nan", lambda: gathered_block_attention(S, with_nan(S), S, LAYOUT), "k")
case(
    "BlockLayout.from_predicate: block_size 0",
    lambda: BlockLayout.from_predicate(masks.causal, 16, block_size=0),
    "block_size",
)
case("BlockLayout.from_mask: int mask", lambda: BlockLayout.from_mask(torch.ones(4, 4, dtype=torch.int64), 2), "mask")
case("dense_mask: q_len 0", lambda: masks.dense_mask(masks.causal, 0), "q_len")
case("dense_mask: q_len 2.5", lambda: masks.dense_mask(masks.causal, 2.5), "q_len")
case("sliding_window: -1", lambda: masks.sliding_window(-1), "window")
case("strided: 0", lambda: masks.strided(0), "stride")
case("random_elements: sparsity 1", lambda: masks.random_elements(8, 1.0), "sparsity")
case("random_elements: sparsity nan", lambda: masks.random_elements(8, float("nan")), "sparsity")
case("random_block_layout: band too wide", lambda: masks.random_block_layout(8, 0.9), "band", "sparsity")
case("block_sparse: int layout", lambda: masks.block_sparse(torch.ones(2, 2, dtype=torch.int64), 4), "layout")
case("element_sparsity: float mask", lambda: masks.element_sparsity(torch.ones(3, 3)), "mask")
case("tile_counts: 3-d mask", lambda: masks.tile_counts(torch.ones(2, 3, 3, dtype=torch.bool), 2), "mask")
case("speedup_bound: sparsity 1", lambda: masks.speedup_bound(1.0), "sparsity")
case("window_for_sparsity: length 0", lambda: masks.window_for_sparsity(0, 0.5), "length")

X16 = r(2, 5, 16)
MHA = MultiHeadSelfAttention(16, 4)
case("MultiHeadSelfAttention: width 8", lambda: MHA(r(2, 5, 8)), "x")
case("MultiHeadSelfAttention: 2-d x", lambda: MHA(r(5, 16)), "x")
case("MultiHeadSelfAttention: int x", lambda: MHA(X16.long()), "x")
case("MultiHeadSelfAttention: float16 x", lambda: MHA(X16.half()), "x")
case("MultiHeadSelfAttention: nan x", lambda: MHA(with_nan(X16)), "x")
case("MultiHeadSelfAttention: heads do not divide", lambda: MultiHeadSelfAttention(16, 3), "d_model", "n_heads")

# --- FK attention ---------------------------------------------------------------------------
FQ = r(2, 5, 4, seed=4)
per_argument(
    "fk_attention",
    fk.fk_attention,
    {"q": FQ, "k": r(2, 5, 4), "v": r(2, 5, 3)},
    ("q", "k", "v"),
    ("nan", "inf", "int64", "float16", "float64 beside float32", "a list"),
)
case("fk_attention: 1-d q, k, v", lambda: fk.fk_attention(torch.randn(4), torch.randn(4), torch.randn(4)), "q")
case("fk_attention: beta 1", lambda: fk.fk_attention(FQ, FQ, FQ, beta=1.0), "beta")
case("fk_attention: beta nan", lambda: fk.fk_attention(FQ, FQ, FQ, beta=float("nan")), "beta")
case("fk_attention: n_terms -1", lambda: fk.fk_attention(FQ, FQ, FQ, n_terms=-1), "n_terms")
case("fk_attention: n_terms 1.5", lambda: fk.fk_attention(FQ, FQ, FQ, n_terms=1.5), "n_terms")
case("fk_attention: mask int", lambda: fk.fk_attention(FQ, FQ, FQ, mask=torch.ones(5, 5, dtype=torch.int64)), "mask")
case(
    "fk_attention: mask wrong shape",
    lambda: fk.fk_attention(FQ, FQ, FQ, mask=torch.ones(4, 4, dtype=torch.bool)),
    "mask",
)
case("fk_attention: empty batch", lambda: fk.fk_attention(r(0, 5, 4), r(0, 5, 4), r(0, 5, 3)), "q", check=empty_ok)
A = torch.full((4, 4), 0.25)
case("resolvent: int A", lambda: fk.resolvent(torch.ones(4, 4, dtype=torch.int64), r(4, 2), 0.3), "A")
case("resolvent: float16 A", lambda: fk.resolvent(A.half(), r(4, 2).half(), 0.3), "A")
case("resolvent: A float64, V float32", lambda: fk.resolvent(A.double(), r(4, 2), 0.3), "V", "A")
case("resolvent: non-square A", lambda: fk.resolvent(r(4, 3), r(4, 2), 0.3), "A")
case("resolvent: V length differs", lambda: fk.resolvent(A, r(3, 2), 0.3), "V")
case("resolvent: beta 1", lambda: fk.resolvent(A, r(4, 2), 1.0), "beta")
case("resolvent: 1-d V", lambda: fk.resolvent(A, r(4), 0.3), "V")
case("path_series: hops -1", lambda: fk.path_series(A, r(4, 2), 0.3, -1), "hops")
case("path_series: int V", lambda: fk.path_series(A, torch.ones(4, 2, dtype=torch.int64), 0.3, 2), "V")
case("path_series: nan A", lambda: fk.path_series(with_nan(A), r(4, 2), 0.3, 2), "A")
case("series_error_bound: hops 1.5", lambda: fk.series_error_bound(A, r(4, 2), 0.3, 1.5), "hops")
case("hops_for_tolerance: rel_tol 0", lambda: fk.hops_for_tolerance(0.3, 0.0), "rel_tol")
case("hops_for_tolerance: beta -1", lambda: fk.hops_for_tolerance(-1.0, 0.1), "beta")
FKA = fk.FKAttention(32, 4)
case("FKAttention(32, 4): width-16 input", lambda: FKA(r(2, 5, 16)), "x")
case("FKAttention: 2-d x", lambda: FKA(r(5, 32)), "x")
case("FKAttention: int x", lambda: FKA(r(2, 5, 32).long()), "x")
case("FKAttention: float16 x", lambda: FKA(r(2, 5, 32).half()), "x")
case("FKAttention: nan x", lambda: FKA(with_nan(r(2, 5, 32))), "x")
case("FKAttention: heads do not divide", lambda: fk.FKAttention(32, 5), "d_model", "n_heads")
case("FKAttention: beta 2", lambda: fk.FKAttention(32, 4, beta=2.0), "beta")
case("FKConfig: n_terms -2", lambda: fk.FKConfig(n_terms=-2), "n_terms")

# --- mixture of experts ---------------------------------------------------------------------
LOGITS = r(6, 4, seed=5)
case("top_k_routing: int logits", lambda: moe.top_k_routing(LOGITS.round().long(), 2), "logits")
case("top_k_routing: float16 logits", lambda: moe.top_k_routing(LOGITS.half(), 2), "logits", check=finite)
case("top_k_routing: nan logits", lambda: moe.top_k_routing(with_nan(LOGITS), 2), "logits")
case("top_k_routing: 1-d logits", lambda: moe.top_k_routing(LOGITS[0], 2), "logits")
case("top_k_routing: logits a list", lambda: moe.top_k_routing(LOGITS.tolist(), 2), "logits")
case("top_k_routing: k 0", lambda: moe.top_k_routing(LOGITS, 0), "k")
case("top_k_routing: k 5 of 4", lambda: moe.top_k_routing(LOGITS, 5), "k")
case("top_k_routing: k 1.5", lambda: moe.top_k_routing(LOGITS, 1.5), "k")
case("top_k_routing: capacity_factor 0", lambda: moe.top_k_routing(LOGITS, 2, 0.0), "capacity_factor")
case("top_k_routing: capacity_factor nan", lambda: moe.top_k_routing(LOGITS, 2, float("nan")), "capacity_factor")
case("top_k_routing: no tokens", lambda: moe.top_k_routing(r(0, 4), 2), "logits", check=empty_ok)
ROUTING = moe.top_k_routing(LOGITS, 2)
case(
    "load_balancing_loss: nan probs", lambda: moe.load_balancing_loss(with_nan(ROUTING.probs), ROUTING.indices), "probs"
)
case(
    "load_balancing_loss: indices out of range",
    lambda: moe.load_balancing_loss(ROUTING.probs, ROUTING.indices + 4),
    "indices",
)
case(
    "load_balancing_loss: T differs",
    lambda: moe.load_balancing_loss(ROUTING.probs, ROUTING.indices[:3]),
    "indices",
    "probs",
)
case(
    "load_balancing_loss: float indices",
    lambda: moe.load_balancing_loss(ROUTING.probs, ROUTING.indices.float()),
    "indices",
)
case("load_balancing_loss: alpha -1", lambda: moe.load_balancing_loss(ROUTING.probs, ROUTING.indices, -1.0), "alpha")
case("router_z_loss: nan logits", lambda: moe.router_z_loss(with_nan(LOGITS)), "logits")
case("router_z_loss: no tokens", lambda: moe.router_z_loss(r(0, 4)), "logits", check=empty_ok)
case("router_z_loss: int logits", lambda: moe.router_z_loss(LOGITS.long()), "logits")
case("load_fractions: out of range", lambda: moe.load_fractions(torch.tensor([[0, 9]]), 4), "indices")
case("load_fractions: empty", lambda: moe.load_fractions(torch.zeros(0, 2, dtype=torch.long), 4), "indices")
case("load_fractions: n_experts 0", lambda: moe.load_fractions(ROUTING.indices, 0), "n_experts")
case("load_fractions: float indices", lambda: moe.load_fractions(ROUTING.indices.float(), 4), "indices")
case(
    "load_fractions: kept wrong shape",
    lambda: moe.load_fractions(ROUTING.indices, 4, torch.ones(2, dtype=torch.bool)),
    "kept",
)
CATS = torch.tensor([0, 1, 2, 3, 0, 1])
case(
    "routing_matrix: categories out of range",
    lambda: moe.routing_matrix(torch.tensor([0, 1, 2, 9, 0, 1]), ROUTING.indices, ROUTING.gates, 4, 4),
    "categories",
    "n_categories",
)
case(
    "routing_matrix: indices out of range",
    lambda: moe.routing_matrix(CATS, ROUTING.indices + 4, ROUTING.gates, 4, 4),
    "indices",
    "n_experts",
)
case(
    "routing_matrix: shapes differ",
    lambda: moe.routing_matrix(CATS[:3], ROUTING.indices, ROUTING.gates, 4, 4),
    "categories",
)
case(
    "routing_matrix: n_categories 0",
    lambda: moe.routing_matrix(CATS, ROUTING.indices, ROUTING.gates, 0, 4),
    "n_categories",
)
case(
    "routing_matrix: weight 'mass'",
    lambda: moe.routing_matrix(CATS, ROUTING.indices, ROUTING.gates, 4, 4, "mass"),
    "weight",
)
case(
    "routing_matrix: nan gates",
    lambda: moe.routing_matrix(CATS, ROUTING.indices, with_nan(ROUTING.gates), 4, 4),
    "gates",
)
case(
    "routing_matrix: float categories",
    lambda: moe.routing_matrix(CATS.float(), ROUTING.indices, ROUTING.gates, 4, 4),
    "categories",
)
LAYER = moe.MoELayer(moe.MoEConfig(d_model=8, d_hidden=8, n_experts=4, k=2, balance_alpha=0.01, z_beta=0.001))
XM = r(3, 5, 8, seed=6)
case("MoELayer: float16 x", lambda: LAYER(XM.half()), "x")
case("MoELayer: float64 x", lambda: LAYER(XM.double()), "x")
case("MoELayer: int x", lambda: LAYER(XM.long()), "x")
case("MoELayer: nan x", lambda: LAYER(with_nan(XM)), "x")
case("MoELayer: inf x", lambda: LAYER(with_inf(XM)), "x")
case("MoELayer: wrong width", lambda: LAYER(r(3, 5, 6)), "x")
case("MoELayer: no tokens", lambda: LAYER(r(0, 5, 8)), "x", check=empty_ok)
case("MoELayer: x a list", lambda: LAYER(XM.tolist()), "x")
case("MoELayer: 0-d x", lambda: LAYER(torch.tensor(1.0)), "x")
ROUTER = moe.Router(moe.RouterConfig(d_model=8, n_experts=4, k=2))
case("Router: float16 x", lambda: ROUTER(r(5, 8).half()), "x")
case("Router: nan x", lambda: ROUTER(with_nan(r(5, 8))), "x")
case("Router: 3-d x", lambda: ROUTER(r(2, 5, 8)), "x")
case("Router: int x", lambda: ROUTER(r(5, 8).long()), "x")
case("MoEConfig: k 3 of 2 experts", lambda: moe.MoEConfig(n_experts=2, k=3), "k")
case("MoEConfig: d_hidden 0", lambda: moe.MoEConfig(d_hidden=0), "d_hidden")
case("MoEConfig: dispatch 'fast'", lambda: moe.MoEConfig(dispatch="fast"), "dispatch")
case("MoEConfig: capacity_factor -1", lambda: moe.MoEConfig(capacity_factor=-1.0), "capacity_factor")
EXPERTS = moe.Experts(4, 8, 8)
XD = r(6, 8)
case(
    "dispatch_sorted: routing for 5 tokens",
    lambda: moe.dispatch_sorted(XD, moe.top_k_routing(r(5, 4), 2), EXPERTS),
    "x",
    "routing",
)
case("dispatch_loop: wrong width", lambda: moe.dispatch_loop(r(6, 6), ROUTING, EXPERTS), "x")
case("dispatch_dense: float16 x", lambda: moe.dispatch_dense(XD.half(), ROUTING, EXPERTS), "x")
case("dispatch_sorted: int x", lambda: moe.dispatch_sorted(XD.long(), ROUTING, EXPERTS), "x")
case("Experts: n_experts 0", lambda: moe.Experts(0, 8, 8), "n_experts")
case("balance_cv: fractions do not sum to 1", lambda: moe.balance_cv(torch.tensor([0.5, 0.6])), "fractions")
case("balance_entropy: negative fractions", lambda: moe.balance_entropy(torch.tensor([1.5, -0.5])), "fractions")
case("max_violation: 2-d fractions", lambda: moe.max_violation(torch.full((2, 2), 0.25)), "fractions")
case(
    "coefficient_of_variation: nan",
    lambda: moe.coefficient_of_variation(torch.tensor([float("nan"), 1.0])),
    "fractions",
)
case("expert_capacity: n_tokens -1", lambda: moe.expert_capacity(-1, 4, 2, 1.0), "n_tokens")
case("capacity_mask: indices out of range", lambda: moe.capacity_mask(torch.tensor([[0, 7]]), 4, 2), "indices")
case("capacity_mask: capacity -1", lambda: moe.capacity_mask(ROUTING.indices, 4, -1), "capacity")
case("dropped_rate: int kept", lambda: moe.dropped_rate(torch.ones(3, 2, dtype=torch.int64)), "kept")
case("expert_specialisation: one category", lambda: moe.expert_specialisation(torch.ones(1, 4)), "matrix")
case("specialisation: all zero", lambda: moe.specialisation(torch.zeros(3, 4)), "matrix")
case("normalised_mutual_information: all zero", lambda: moe.normalised_mutual_information(torch.zeros(3, 4)), "matrix")
case("normalised_mutual_information: negative", lambda: moe.normalised_mutual_information(-torch.ones(3, 4)), "matrix")

# --- SPD router -----------------------------------------------------------------------------
case("dct_basis: dtype int64", lambda: spd.dct_basis(8, dtype=torch.int64), "dtype")
case("dct_basis: n 0", lambda: spd.dct_basis(0), "n")
case("dct_basis: k > n", lambda: spd.dct_basis(4, 5), "k")
BASIS = spd.dct_basis(8)
case("split: basis wrong size", lambda: spd.split(r(2, 8), spd.dct_basis(6), torch.ones(2, 6)), "basis", "x")
case("split: int x", lambda: spd.split(r(2, 8).long(), BASIS, torch.ones(2, 8)), "x")
case("split: nan gate", lambda: spd.split(r(2, 8), BASIS, with_nan(torch.ones(2, 8))), "gate")
case("split: float64 x, float32 basis", lambda: spd.split(r(2, 8).double(), BASIS, torch.ones(2, 8)), "x", "basis")
ROUTER_SPD = spd.SPDRouter(16)
XS = r(2, 8, 16, seed=7)
case("SPDRouter(16): empty batch", lambda: ROUTER_SPD(r(0, 8, 16)), "x", check=empty_ok)
case("SPDRouter: no steps", lambda: ROUTER_SPD(r(2, 0, 16)), "x", check=empty_ok)
case("SPDRouter: float16 x", lambda: ROUTER_SPD(XS.half()), "x")
case("SPDRouter: int x", lambda: ROUTER_SPD(XS.long()), "x")
case("SPDRouter: nan x", lambda: ROUTER_SPD(with_nan(XS)), "x")
case("SPDRouter: wrong width", lambda: ROUTER_SPD(r(2, 8, 12)), "x")
case("SPDRouter: 2-d x", lambda: ROUTER_SPD(r(8, 16)), "x")
case("SPDRouter: d_model 2", lambda: spd.SPDRouter(2), "d_model")
case("SPDRouter: basis 'fourier'", lambda: spd.SPDRouter(16, basis="fourier"), "basis")
case("SPDRouter: dropout 1", lambda: spd.SPDRouter(16, dropout=1.0), "dropout")
case("SPDRouter: structure_dim 20", lambda: spd.SPDRouter(16, structure_dim=20), "structure_dim")
case("snr_db: zeros, zeros", lambda: spd.snr_db(torch.zeros(2, 8), torch.zeros(2, 8)), "clean")
case("snr_db: shapes differ", lambda: spd.snr_db(r(2, 8), r(2, 6)), "clean", "estimate")
case("snr_db: nan estimate", lambda: spd.snr_db(r(2, 8), with_nan(r(2, 8))), "estimate")
case("snr_db: length 1", lambda: spd.snr_db(r(2, 1), r(2, 1)), "clean")
case("snr_db: int clean", lambda: spd.snr_db(torch.ones(2, 8, dtype=torch.int64), r(2, 8)), "clean", check=finite)
case("structure_correlation: shapes differ", lambda: spd.structure_correlation(r(2, 8), r(3, 8)), "estimate", "clean")
case("structure_correlation: inf", lambda: spd.structure_correlation(with_inf(r(2, 8)), r(2, 8)), "estimate")
case("snr_improvement_db: noisy shape", lambda: spd.snr_improvement_db(r(2, 8), r(2, 6), r(2, 8)), "noisy")
case("snr_improvement_db: zero clean", lambda: spd.snr_improvement_db(torch.zeros(2, 8), r(2, 8), r(2, 8)), "clean")
case("dct_denoise: method 'median'", lambda: dct_denoise(r(2, 8), "median"), "method")
case("dct_denoise: sigma -1", lambda: dct_denoise(r(2, 8), "hard", sigma=-1.0), "sigma")
case("dct_denoise: lowpass without cutoff", lambda: dct_denoise(r(2, 8), "lowpass"), "cutoff")
case("dct_denoise: int noisy", lambda: dct_denoise(r(2, 8).long(), "soft"), "noisy")

# --- verifier -------------------------------------------------------------------------------
STACK, CONTROLS, ELEMENT = torch.zeros(2, 4, 3), torch.tensor([[1.0, 0, 0], [0, 0, 1.0]]), r(2, 3)
case("stack_step: 2-d stack", lambda: verifier.stack_step(torch.zeros(4, 3), CONTROLS, ELEMENT), "stack")
case("stack_step: controls of 2", lambda: verifier.stack_step(STACK, CONTROLS[:, :2], ELEMENT), "controls")
case("stack_step: element width differs", lambda: verifier.stack_step(STACK, CONTROLS, r(2, 5)), "element")
case("stack_step: nan element", lambda: verifier.stack_step(STACK, CONTROLS, with_nan(ELEMENT)), "element")
case("stack_step: controls off the simplex", lambda: verifier.stack_step(STACK, 5 * CONTROLS, ELEMENT), "controls")
STRONG = torch.full((1, 12, 3), 5.0)
case(
    "run_stack: strengths 5.0",
    lambda: verifier.run_stack(STRONG, r(1, 12, 2), 4),
    "controls",
    check=lambda out: bool((verifier.stack_depth(out[0]) <= 4 + 1e-5).all()),
)
case("run_stack: negative controls", lambda: verifier.run_stack(-torch.ones(1, 3, 3) / 3, r(1, 3, 2), 4), "controls")
case("run_stack: controls of 2", lambda: verifier.run_stack(torch.ones(1, 3, 2) / 2, r(1, 3, 2), 4), "controls")
case(
    "run_stack: values length differs",
    lambda: verifier.run_stack(torch.ones(1, 3, 3) / 3, r(1, 4, 2), 4),
    "values",
    "controls",
)
case("run_stack: stack_size 0", lambda: verifier.run_stack(torch.ones(1, 3, 3) / 3, r(1, 3, 2), 0), "stack_size")
case("run_stack: no steps", lambda: verifier.run_stack(torch.ones(1, 0, 3) / 3, r(1, 0, 2), 4), "controls")
case(
    "run_stack: int controls",
    lambda: verifier.run_stack(torch.ones(1, 3, 3, dtype=torch.int64), r(1, 3, 2), 4),
    "controls",
)
case("run_stack: float16 values", lambda: verifier.run_stack(torch.ones(1, 3, 3) / 3, r(1, 3, 2).half(), 4), "values")
case("stack_depth: 0-d", lambda: verifier.stack_depth(torch.tensor(1.0)), "stacks")
HEAD = verifier.VerifierHead(16, stack_size=4, element_dim=3)
XV = r(2, 6, 16, seed=8)
case("VerifierHead: float16 hidden_states", lambda: HEAD(XV.half()), "hidden_states")
case("VerifierHead: int hidden_states", lambda: HEAD(XV.long()), "hidden_states")
case("VerifierHead: nan hidden_states", lambda: HEAD(with_nan(XV)), "hidden_states")
case("VerifierHead: wrong width", lambda: HEAD(r(2, 6, 12)), "hidden_states")
case("VerifierHead: 2-d hidden_states", lambda: HEAD(r(6, 16)), "hidden_states")
case("VerifierHead: mask wrong shape", lambda: HEAD(XV, torch.ones(2, 5, dtype=torch.bool)), "mask")
case("VerifierHead: int mask", lambda: HEAD(XV, torch.ones(2, 6, dtype=torch.int64)), "mask")
case("VerifierHead: mask starts with padding", lambda: HEAD(XV, torch.zeros(2, 6, dtype=torch.bool)), "mask")
case("VerifierHead: empty batch", lambda: HEAD(r(0, 6, 16)), "hidden_states", check=empty_ok)
case("VerifierHead: stack_size 0", lambda: verifier.VerifierHead(16, stack_size=0), "stack_size")
OUT = HEAD(XV)
case(
    "verifier_loss: depth_target shape",
    lambda: verifier.verifier_loss(
        OUT.depth,
        OUT.step_logits,
        OUT.valid_logits,
        torch.zeros(2, 5),
        torch.ones(2, 6),
        torch.ones(2),
        torch.ones(2, 6, dtype=torch.bool),
    ),
    "depth_target",
)

# --- tasks ----------------------------------------------------------------------------------
G = torch.Generator().manual_seed(0)
case(
    "DyckConfig(max_length=3): sample_valid",
    lambda: dyck.sample_valid(dyck.DyckConfig(max_length=3), G),
    "max_length",
    check=lambda s: dyck.is_valid(s) and len(s) <= 3,
)
case(
    "DyckConfig(1, 2, 20, min_depth=3, max_depth=5): sample_valid",
    lambda: [
        dyck.sample_valid(dyck.DyckConfig(1, min_length=2, max_length=20, min_depth=3, max_depth=5), G)
        for _ in range(20)
    ],
    "min_depth",
    "min_length",
    check=lambda strings: all(dyck.is_valid(s) and max(dyck.trace(s)[0]) >= 3 for s in strings),
)
case("DyckConfig: only odd lengths", lambda: dyck.DyckConfig(min_length=3, max_length=3), "min_length", "max_length")
case("DyckConfig: n_types 3", lambda: dyck.DyckConfig(n_types=3), "n_types")
case("DyckConfig: min_length 1", lambda: dyck.DyckConfig(min_length=1), "min_length")
case("DyckConfig: max_depth below min_depth", lambda: dyck.DyckConfig(min_depth=3, max_depth=2), "max_depth")
case("encode: unknown symbol", lambda: dyck.encode(["(x)"]), "strings", "symbols")
case("encode: no strings", lambda: dyck.encode([]), "strings")
case("trace: empty string", lambda: dyck.trace(""), "string")
case("sample_strings: odd n", lambda: dyck.sample_strings(3, dyck.DyckConfig(), G), "n")
case("corrupt: n_types 3", lambda: dyck.corrupt("()", 3, G), "n_types")
LOGITS_LC, TARGETS_LC = r(2, 8, 5), torch.randint(0, 5, (2, 8), generator=torch.Generator().manual_seed(0))
case("lag_copy.accuracy: shapes differ", lambda: lag_copy.accuracy(LOGITS_LC, TARGETS_LC[:, :6]), "logits", "targets")
case("lag_copy.accuracy: 2-d logits", lambda: lag_copy.accuracy(LOGITS_LC[..., 0], TARGETS_LC), "logits")
case("lag_copy.accuracy: nothing answered", lambda: lag_copy.accuracy(LOGITS_LC, torch.full((2, 8), -100)), "targets")
case("LagCopyConfig: lag >= length", lambda: lag_copy.LagCopyConfig(length=4, lag=4), "lag")
SUCC = pointer_chasing.random_successors(2, 4, torch.Generator().manual_seed(0))
case(
    "pointer_chasing.follow: successors out of range",
    lambda: pointer_chasing.follow(SUCC + 10, torch.tensor([0, 1]), 2),
    "succ",
)
case(
    "pointer_chasing.follow: start out of range", lambda: pointer_chasing.follow(SUCC, torch.tensor([0, 7]), 2), "start"
)
case("pointer_chasing.follow: hops -1", lambda: pointer_chasing.follow(SUCC, torch.tensor([0, 1]), -1), "hops")
case("pointer_chasing.follow: 1-d succ", lambda: pointer_chasing.follow(SUCC[0], torch.tensor([0, 1]), 1), "succ")
case("pointer_chasing.follow: float start", lambda: pointer_chasing.follow(SUCC, torch.tensor([0.0, 1.0]), 1), "start")
case("PointerChasingConfig: hops >= n_nodes", lambda: pointer_chasing.PointerChasingConfig(4, 4), "hops")
case(
    "pointer_chasing.sample: batch 0",
    lambda: pointer_chasing.sample(0, pointer_chasing.PointerChasingConfig(), G),
    "batch",
)
case("signals.input_snr_db(0)", lambda: signals.input_snr_db(0), "noise_level")
case("signals.input_snr_db(-1)", lambda: signals.input_snr_db(-1), "noise_level")
case("sinusoid_mixture: length 1", lambda: signals.sinusoid_mixture(2, 1, 1, 0.1, G), "length")
case(
    "sinusoid_mixture: cycles above Nyquist", lambda: signals.sinusoid_mixture(2, 8, 1, 0.1, G, (1.0, 6.0)), "cycles[1]"
)
case("sinusoid_mixture: noise nan", lambda: signals.sinusoid_mixture(2, 8, 1, float("nan"), G), "noise_level")
case("PalindromeConfig: odd length", lambda: palindromes.PalindromeConfig(length=7), "length")
case(
    "PalindromeConfig: fraction 2", lambda: palindromes.PalindromeConfig(palindrome_fraction=2.0), "palindrome_fraction"
)
case(
    "TokenCategoryConfig: probs of 3",
    lambda: token_categories.TokenCategoryConfig(category_probs=(0.5, 0.5, 0.0)),
    "category_probs",
)
case("TokenCategoryConfig: d_model 4", lambda: token_categories.TokenCategoryConfig(d_model=4), "d_model")
case("TokenCategoryTask.sample: n_tokens 0", lambda: token_categories.TokenCategoryTask().sample(0, G), "n_tokens")
