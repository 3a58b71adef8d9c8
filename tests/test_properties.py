"""Property-based tests of the public API's answers to any input (Hypothesis).

For generated shapes (empty axes included), dtypes, sizes, parameters and NaN / inf entries,
each public entry point below either raises a ``ValueError`` / ``TypeError`` whose message
names one of its arguments, or returns a result in which every float is finite (plus what the
entry point promises, such as a stack that never holds more than its size). Each runs
:data:`EXAMPLES` generated cases, counted, none skipped; derandomised so CI sees the same cases.
"""

from __future__ import annotations

import functools
import math
import re
import warnings

import pytest
import torch
from bad_inputs import finite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_edu import fk_attention as fk
from spark_edu import moe, spd, verifier
from spark_edu.attention import attention, attention_weights, masks
from spark_edu.attention.multihead import MultiHeadSelfAttention
from spark_edu.attention.window import sliding_window_attention
from spark_edu.tasks import dyck, lag_copy, pointer_chasing, signals

EXAMPLES = 500
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- generators -----------------------------------------------------------------------------
DTYPES = (torch.float32, torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64)
SIZES = st.integers(0, 5)


@st.composite
def shape_near(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` most of the time; else one axis resized, dropped or added."""
    kind = draw(st.sampled_from(["same"] * 6 + ["resize", "drop", "add"]))
    shape = list(shape)
    if kind == "resize" and shape:
        shape[draw(st.integers(0, len(shape) - 1))] = draw(SIZES)
    elif kind == "drop" and shape:
        shape.pop(draw(st.integers(0, len(shape) - 1)))
    elif kind == "add":
        shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(1, 3)))
    return tuple(shape)


@st.composite
def tensors(draw, shape: tuple[int, ...], dtype=None, near: bool = True):
    """A real tensor of (about) ``shape``: random values at a random scale, sometimes a NaN or inf."""
    shape = draw(shape_near(shape)) if near else shape
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1.0, 1.0, 0.0, 1e-30, 1e-3, 10.0, 100.0]))
    t = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale
    special = draw(st.sampled_from([None] * 6 + [math.nan, math.inf, -math.inf]))
    if special is not None and t.numel():
        t.view(-1)[draw(st.integers(0, t.numel() - 1))] = special
    if dtype == torch.int64:
        return t.nan_to_num(0.0, 0.0, 0.0).round().clamp(-1e6, 1e6).to(torch.int64)
    return t.to(dtype)


@st.composite
def indices(draw, shape: tuple[int, ...], high: int):
    """An integer tensor of (about) ``shape``, usually in [0, high), sometimes out of range or float."""
    shape = draw(shape_near(shape))
    low, top = draw(st.sampled_from([(0, high), (0, high), (0, high), (-2, high), (0, high + 3)]))
    seed = draw(st.integers(0, 2**31 - 1))
    t = torch.randint(low, max(top, low + 1), shape, generator=torch.Generator().manual_seed(seed))
    return t.float() if draw(st.integers(0, 9)) == 0 else t


@st.composite
def masks_for(draw, shape: tuple[int, ...]):
    shape = draw(shape_near(shape))
    seed = draw(st.integers(0, 2**31 - 1))
    m = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) > draw(st.sampled_from([0.0, 0.3, 0.9, 1.0]))
    return m.long() if draw(st.integers(0, 9)) == 0 else m


@st.composite
def simplex(draw, shape: tuple[int, ...]):
    """Controls: usually rows on the simplex (softmax or one-hot), sometimes arbitrary."""
    kind = draw(st.sampled_from(["softmax", "softmax", "onehot", "raw"]))
    t = draw(tensors(shape, torch.float32, near=kind == "raw"))
    if kind == "softmax":
        return (t.nan_to_num() * 3).softmax(dim=-1)
    if kind == "onehot":
        return torch.nn.functional.one_hot(t.nan_to_num().argmax(dim=-1), shape[-1]).float()
    return t


def floats(low: float, high: float):
    """Numbers in [low, high], with the edges, just past them, NaN, inf and non-numbers."""
    inside = st.floats(low, high, allow_nan=False, allow_infinity=False)
    edges = st.sampled_from([low, high, low - 1e-3, high + 1e-3, math.nan, math.inf, -math.inf])
    return st.one_of(inside, inside, edges, st.sampled_from([None, "0.5", True]))


def ints(low: int, high: int):
    return st.one_of(st.integers(low, high), st.integers(low, high), st.sampled_from([low - 1, high + 1, 1.5, None]))


# --- the property ---------------------------------------------------------------------------
def _names(message: str, names: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names)


def answers_well(fn, args: dict, names: tuple[str, ...], invariant=None) -> None:
    """Call ``fn(**args)``: a clear error or a finite result (that meets ``invariant``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(**args)
    except (ValueError, TypeError) as error:
        assert _names(str(error), names), f"{type(error).__name__} names none of {names}: {error}"
        return
    assert finite(result), f"non-finite result for {args}"
    if invariant is not None:
        assert invariant(result, args), f"invariant broken for {args}"


ENTRY_POINTS = {}


def entry_point(name: str, names: tuple[str, ...], invariant=None):
    """Register ``strategy`` (drawing the keyword arguments) for the entry point ``name``."""

    def register(build):
        ENTRY_POINTS[name] = (build, names, invariant)
        return build

    return register


@st.composite
def _qkv(draw, same_length=False):
    B, T, S, D, Dv = draw(SIZES), draw(SIZES), draw(SIZES), draw(st.integers(1, 5)), draw(SIZES)
    S = T if same_length else S
    return B, T, S, D, Dv


@entry_point("attention", ("q", "k", "v", "mask"))
@st.composite
def _attention(draw):
    B, T, S, D, Dv = draw(_qkv())
    mask = draw(st.one_of(st.none(), masks_for((T, S))))
    return attention, dict(
        q=draw(tensors((B, T, D))), k=draw(tensors((B, S, D))), v=draw(tensors((B, S, Dv))), mask=mask
    )


@entry_point("attention_weights", ("q", "k", "mask"))
@st.composite
def _attention_weights(draw):
    B, T, S, D, _ = draw(_qkv())
    mask = draw(st.one_of(st.none(), masks_for((B, T, S))))
    return attention_weights, dict(q=draw(tensors((B, T, D))), k=draw(tensors((B, S, D))), mask=mask)


@entry_point("sliding_window_attention", ("q", "k", "v", "window", "block_size"))
@st.composite
def _window(draw):
    B, T, _, D, Dv = draw(_qkv(same_length=True))
    args = dict(q=draw(tensors((B, T, D))), k=draw(tensors((B, T, D))), v=draw(tensors((B, T, Dv))))
    return sliding_window_attention, dict(args, window=draw(ints(1, 4)), block_size=draw(ints(1, 4)))


@entry_point("masks.random_block_layout", ("n_blocks", "sparsity", "seed", "band"))
@st.composite
def _random_block_layout(draw):
    args = dict(
        n_blocks=draw(ints(1, 8)), sparsity=draw(floats(0.0, 0.99)), band=draw(st.sampled_from([None, 0, 1, -1]))
    )
    return masks.random_block_layout, args


@entry_point("fk_attention", ("q", "k", "v", "beta", "n_terms", "mask"))
@st.composite
def _fk_attention(draw):
    B, T, _, D, Dv = draw(_qkv(same_length=True))
    args = dict(q=draw(tensors((B, T, D))), k=draw(tensors((B, T, D))), v=draw(tensors((B, T, Dv))))
    mask = draw(st.one_of(st.none(), masks_for((T, T))))
    n_terms = draw(st.one_of(st.none(), ints(0, 6)))
    return fk.fk_attention, dict(
        args, beta=draw(floats(-0.99, 0.99)), n_terms=n_terms, mask=mask, causal=draw(st.booleans())
    )


def _stochastic(draw, T: int):
    kind = draw(st.sampled_from(["softmax", "softmax", "raw"]))
    A = draw(tensors((T, T), near=kind == "raw"))
    return A.nan_to_num().float().softmax(dim=-1) if kind == "softmax" else A


@entry_point("resolvent", ("A", "V", "beta"))
@st.composite
def _resolvent(draw):
    T = draw(SIZES)
    return fk.resolvent, dict(A=_stochastic(draw, T), V=draw(tensors((T, draw(SIZES)))), beta=draw(floats(-0.99, 0.99)))


@entry_point("path_series", ("A", "V", "beta", "hops"))
@st.composite
def _path_series(draw):
    T = draw(SIZES)
    A, V = _stochastic(draw, T), draw(tensors((T, draw(SIZES))))
    return fk.path_series, dict(A=A, V=V, beta=draw(floats(-0.99, 0.99)), hops=draw(ints(0, 8)))


@functools.cache
def _layers():
    torch.manual_seed(0)
    return {
        "fk": fk.FKAttention(8, 2),
        "mha": MultiHeadSelfAttention(8, 2),
        "moe": moe.MoELayer(moe.MoEConfig(d_model=4, d_hidden=4, n_experts=4, k=2, balance_alpha=0.01, z_beta=0.001)),
        "spd": spd.SPDRouter(8),
        "verifier": verifier.VerifierHead(8, stack_size=4, element_dim=3),
    }


@entry_point("FKAttention.forward", ("x",))
@st.composite
def _fk_layer(draw):
    return _layers()["fk"], dict(x=draw(tensors((draw(SIZES), draw(SIZES), 8))))


@entry_point("MultiHeadSelfAttention.forward", ("x",))
@st.composite
def _mha(draw):
    return _layers()["mha"], dict(x=draw(tensors((draw(SIZES), draw(SIZES), 8))))


@entry_point("top_k_routing", ("logits", "k", "capacity_factor"))
@st.composite
def _top_k(draw):
    T, E = draw(SIZES), draw(st.integers(1, 5))
    capacity = draw(st.one_of(st.none(), floats(0.01, 3.0)))
    return moe.top_k_routing, dict(logits=draw(tensors((T, E))), k=draw(ints(1, E)), capacity_factor=capacity)


@entry_point("router_z_loss", ("logits", "beta"))
@st.composite
def _z_loss(draw):
    return moe.router_z_loss, dict(
        logits=draw(tensors((draw(SIZES), draw(st.integers(1, 5))))), beta=draw(floats(0, 1))
    )


@entry_point("load_balancing_loss", ("probs", "indices", "alpha"))
@st.composite
def _balance_loss(draw):
    T, E, K = draw(SIZES), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    probs = draw(tensors((T, E), torch.float32)).softmax(-1) if draw(st.booleans()) else draw(tensors((T, E)))
    return moe.load_balancing_loss, dict(probs=probs, indices=draw(indices((T, K), E)), alpha=draw(floats(0, 1)))


@entry_point("routing_matrix", ("categories", "indices", "gates", "n_categories", "n_experts", "weight"))
@st.composite
def _routing_matrix(draw):
    T, K, C, E = draw(SIZES), draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    args = dict(categories=draw(indices((T,), C)), indices=draw(indices((T, K), E)), gates=draw(tensors((T, K))))
    weight = draw(st.sampled_from(["gate", "count", "mass"]))
    return moe.routing_matrix, dict(args, n_categories=draw(ints(1, C)), n_experts=draw(ints(1, E)), weight=weight)


@entry_point("MoELayer.forward", ("x",))
@st.composite
def _moe_layer(draw):
    return _layers()["moe"], dict(x=draw(tensors((draw(SIZES), draw(SIZES), 4))))


@entry_point("MoEConfig", ("d_model", "d_hidden", "n_experts", "k", "capacity_factor", "noise"))
@st.composite
def _moe_config(draw):
    return moe.MoEConfig, dict(
        d_model=draw(ints(1, 8)),
        d_hidden=draw(ints(1, 8)),
        n_experts=draw(ints(1, 8)),
        k=draw(ints(1, 8)),
        capacity_factor=draw(st.one_of(st.none(), floats(0.01, 2))),
        noise=draw(floats(0, 2)),
    )


@entry_point("dct_basis", ("n", "k", "dtype"))
@st.composite
def _dct(draw):
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.float16, torch.bool]))
    return spd.dct_basis, dict(n=draw(ints(1, 16)), k=draw(st.one_of(st.none(), ints(1, 16))), dtype=dtype)


@entry_point("split", ("x", "basis", "gate"))
@st.composite
def _split(draw):
    B, N, K = draw(SIZES), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    basis = spd.dct_basis(N, min(K, N)) if draw(st.booleans()) else draw(tensors((N, K)))
    return spd.split, dict(x=draw(tensors((B, N))), basis=basis, gate=draw(tensors((B, basis.shape[-1]))))


@entry_point("SPDRouter.forward", ("x",))
@st.composite
def _spd_router(draw):
    return _layers()["spd"], dict(x=draw(tensors((draw(SIZES), draw(SIZES), 8))))


@entry_point("snr_db", ("clean", "estimate"))
@st.composite
def _snr(draw):
    B, N = draw(SIZES), draw(st.integers(1, 6))
    return spd.snr_db, dict(clean=draw(tensors((B, N))), estimate=draw(tensors((B, N))))


@entry_point("structure_correlation", ("estimate", "clean"))
@st.composite
def _correlation(draw):
    B, N = draw(SIZES), draw(st.integers(1, 6))
    return spd.structure_correlation, dict(estimate=draw(tensors((B, N))), clean=draw(tensors((B, N))))


@entry_point("stack_step", ("stack", "controls", "element"))
@st.composite
def _stack_step(draw):
    B, K, M = draw(SIZES), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    args = dict(stack=draw(tensors((B, K, M))), controls=draw(simplex((B, 3))), element=draw(tensors((B, M))))
    return verifier.stack_step, args


def _within_size(result, args) -> bool:
    stacks, _ = result
    return bool((verifier.stack_depth(stacks) <= args["stack_size"] + 1e-3).all())


@entry_point("run_stack", ("controls", "values", "stack_size"), invariant=_within_size)
@st.composite
def _run_stack(draw):
    B, T, M = draw(SIZES), draw(SIZES), draw(st.integers(1, 4))
    args = dict(controls=draw(simplex((B, T, 3))), values=draw(tensors((B, T, M), torch.float32)))
    return verifier.run_stack, dict(args, stack_size=draw(ints(1, 6)))


@entry_point("VerifierHead.forward", ("hidden_states", "mask"))
@st.composite
def _verifier_head(draw):
    B, T = draw(SIZES), draw(SIZES)
    mask = draw(st.one_of(st.none(), masks_for((B, T))))
    return _layers()["verifier"], dict(hidden_states=draw(tensors((B, T, 8))), mask=mask, hard=draw(st.booleans()))


def _valid_strings(strings, args) -> bool:
    config = dyck.DyckConfig(**args["config_args"])
    return all(dyck.is_valid(s) and config.min_length <= len(s) <= config.max_length for s in strings)


def _sample_dyck(config_args: dict, seed: int) -> list[str]:
    config = dyck.DyckConfig(**config_args)
    g = torch.Generator().manual_seed(seed)
    return [dyck.sample_valid(config, g) for _ in range(3)]


@entry_point(
    "DyckConfig + sample_valid", ("n_types", "min_length", "max_length", "min_depth", "max_depth"), _valid_strings
)
@st.composite
def _dyck(draw):
    config_args = dict(
        n_types=draw(ints(1, 2)),
        min_length=draw(ints(2, 12)),
        max_length=draw(ints(2, 24)),
        min_depth=draw(ints(1, 6)),
        max_depth=draw(ints(1, 8)),
    )
    return _sample_dyck, dict(config_args=config_args, seed=draw(st.integers(0, 1000)))


@entry_point("lag_copy.accuracy", ("logits", "targets"), lambda acc, _: 0.0 <= acc <= 1.0)
@st.composite
def _accuracy(draw):
    B, T, V = draw(SIZES), draw(SIZES), draw(st.integers(1, 4))
    targets = draw(indices((B, T), V))
    if draw(st.booleans()) and targets.numel():
        targets = targets.masked_fill(torch.rand(targets.shape) < 0.3, lag_copy.IGNORE)
    return lag_copy.accuracy, dict(logits=draw(tensors((B, T, V))), targets=targets)


@entry_point("pointer_chasing.follow", ("succ", "start", "hops"))
@st.composite
def _follow(draw):
    B, N = draw(SIZES), draw(st.integers(1, 5))
    return pointer_chasing.follow, dict(
        succ=draw(indices((B, N), N)), start=draw(indices((B,), N)), hops=draw(ints(0, 5))
    )


@entry_point("signals.sinusoid_mixture", ("n_signals", "length", "n_components", "noise_level", "cycles"))
@st.composite
def _signals(draw):
    length = draw(ints(2, 16))
    cycles = (draw(floats(0.0, 4.0)), draw(floats(0.0, 9.0)))
    args = dict(
        n_signals=draw(ints(1, 3)), length=length, n_components=draw(ints(1, 3)), noise_level=draw(floats(0, 2))
    )
    return signals.sinusoid_mixture, dict(args, generator=torch.Generator().manual_seed(0), cycles=cycles)


@entry_point("signals.input_snr_db", ("noise_level",))
@st.composite
def _input_snr(draw):
    return signals.input_snr_db, dict(noise_level=draw(st.one_of(floats(0, 2), st.floats(0, 1e-300))))


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_every_answer_is_a_clear_error_or_a_finite_result(name):
    build, names, invariant = ENTRY_POINTS[name]
    calls = []

    @SETTINGS
    @given(build())
    def check(drawn):
        fn, args = drawn
        calls.append(1)
        with torch.no_grad():
            answers_well(fn, args, names, invariant)

    check()
    assert len(calls) >= EXAMPLES, f"{name}: only {len(calls)} generated cases ran"
