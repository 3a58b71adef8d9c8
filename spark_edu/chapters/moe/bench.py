"""``python -m spark_edu bench moe``: what does MoE dispatch really cost?

Times, in one run and on one input, the forward pass of:

* ``loop``   — :func:`~spark_edu.moe.dispatch_loop`, one index-mask pass per expert;
* ``sorted`` — :func:`~spark_edu.moe.dispatch_sorted`, permute / contiguous slices / un-permute;
* ``floor``  — the expert maths with no dispatch at all, per round the faster of two ways:
  ``one_piece``, one two-layer MLP on all ``A = T·K`` assignment rows (``gelu(X W1 + b1) W2 + b2``
  with one expert's weights, X (A, D) already in place), and ``grouped``, the E experts' own
  MLPs on their rows already grouped and contiguous (equal load). A dispatch path does the same
  matmuls *and* gathers and scatters, so it cannot beat both; which is faster depends on the
  shapes (one big matmul streams its (A, F) hidden layer through memory, E small ones may stay
  in cache), so neither alone is a floor;
* ``weights`` — one read of every expert weight (a sum over w1 and w2): the memory floor. Each
  call of a dispatch path must read all E experts' weights once; with few rows per expert
  (small batches, many experts) that read, not the FLOPs, bounds the time;
* ``ideal``  — :meth:`~spark_edu.moe.Experts.grouped` on tokens already grouped with equal
  load (two batched matmuls). Not a floor: ``bmm`` on a CPU can be slower than E matmuls;
* ``dense``  — :func:`~spark_edu.moe.dispatch_dense`, every expert on every token (E/K × FLOPs);
* ``route``  — the router itself (gate matmul, softmax, top-k), and ``permute`` — sorting,
  gathering and scattering the tokens with the expert maths left out;
* ``peak``   — one square float32 matmul, the machine's measured matmul rate.

Every path runs in every round, back to back, the order alternating between rounds
(:func:`spark_edu.measure.paired_times`). Reports medians, ratios as the median and IQR of
per-round ratios, achieved GFLOP/s against ``peak``, the sorted path's fraction of the floor
(``floor / sorted`` per round), of the bound (``max(floor, weights) / sorted``) and of the
peak, and routing's share of a full fast-path layer (route + permute over route + sorted).
Then the same without the dense oracle on smaller cases (:func:`cases`): fine-grained experts
(E = 64, same parameters) and a 256-token batch, where dispatch overhead weighs most. Compare
ratios, not times: the machine is shared and machines of one class differ.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from spark_edu.device import describe_environment, threads
from spark_edu.display import Table
from spark_edu.measure import paired_ratio, paired_times
from spark_edu.moe import Experts, Router, RouterConfig, dispatch_dense, dispatch_loop, dispatch_sorted, expert_flops
from spark_edu.moe.dispatch import sort_by_expert
from spark_edu.moe.metrics import load_fractions, max_violation
from spark_edu.results import load_json
from spark_edu.validation import check_positive_int


@dataclass(frozen=True)
class BenchConfig:
    tokens: int = 4096
    d_model: int = 512
    d_hidden: int = 2048
    n_experts: int = 8
    k: int = 2
    repeats: int = 7  # paired rounds after one warm-up round
    peak_size: int = 2048  # n for the n×n×n matmul that measures the machine's peak
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default (all cores)
    cases: int = 1  # 1: also time the E = 64 and 256-token cases of :func:`cases`; 0: skip them

    def __post_init__(self):
        for name in ("tokens", "d_model", "d_hidden", "n_experts", "k", "repeats", "peak_size"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("threads", self.threads, minimum=0)
        check_positive_int("cases", self.cases, minimum=0)
        if self.tokens * self.k % self.n_experts:
            raise ValueError(
                f"tokens·k must be divisible by n_experts for the equal-load ideal, got "
                f"{self.tokens}·{self.k} and {self.n_experts}"
            )


def cases(c: BenchConfig) -> dict[str, BenchConfig]:
    """The smaller cases timed beside the main one: E = 64 fine-grained experts (hidden width
    scaled by E/64, so the parameters and FLOPs per token stay those of the main case), and a
    batch of 256 tokens with E and with 64 experts (a decoding-sized batch)."""
    fine = max(1, c.d_hidden * c.n_experts // 64)
    out = {"E=64": replace(c, n_experts=64, d_hidden=fine, cases=0)}
    if c.tokens > 256:  # a batch at most this small is already the main case
        out["T=256"] = replace(c, tokens=256, cases=0)
        out["T=256, E=64"] = replace(c, tokens=256, n_experts=64, d_hidden=fine, cases=0)
    return {name: case for name, case in out.items() if case.tokens * case.k % case.n_experts == 0}


def _permute_only(x: torch.Tensor, routing) -> torch.Tensor:
    token, gate, _ = sort_by_expert(routing)  # (A,), (A,)
    return torch.zeros_like(x).index_add_(0, token, x.index_select(0, token) * gate[:, None])  # (T, D), no expert maths


def _one_piece(xa: torch.Tensor, experts: Experts) -> torch.Tensor:
    """The expert FLOPs as one MLP on all A rows: xa (A, D) -> (A, D), two matmuls."""
    h = F.gelu(xa @ experts.w1[0] + experts.b1[0])  # (A, F)
    return h @ experts.w2[0] + experts.b2[0]  # (A, D)


def _pre_grouped(xg: torch.Tensor, experts: Experts) -> list[torch.Tensor]:
    """Each expert's MLP on its own contiguous rows, xg (E, R, D): no gather, no scatter."""
    return [F.gelu(xg[e] @ experts.w1[e] + experts.b1[e]) @ experts.w2[e] + experts.b2[e] for e in range(len(xg))]


def run_benchmark(config: BenchConfig = BenchConfig()) -> dict:
    """Time every path on one seeded input; returns medians (ms), ratios, GFLOP/s, shares,
    and (``config.cases``) the same for each of :func:`cases` under ``"cases"``."""
    start = time.perf_counter()
    with threads(config.threads or None):
        result = _run(config, dense=True)
        if config.cases:
            result["cases"] = {name: _run(case, dense=False) for name, case in cases(config).items()}
    result["wall_s"] = time.perf_counter() - start
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]  # at the end of the run
    return result


def _run(c: BenchConfig, dense: bool) -> dict:
    g = torch.Generator().manual_seed(c.seed)
    with torch.random.fork_rng():
        torch.manual_seed(c.seed)
        router = Router(RouterConfig(c.d_model, c.n_experts, c.k)).eval()
        experts = Experts(c.n_experts, c.d_model, c.d_hidden)
    x = torch.randn(c.tokens, c.d_model, generator=g)  # (T, D)
    xg = torch.randn(c.n_experts, c.tokens * c.k // c.n_experts, c.d_model, generator=g)  # (E, T·K/E, D)
    xa = xg.reshape(-1, c.d_model)  # (A, D) the same rows, one block
    a = torch.randn(c.peak_size, c.peak_size, generator=g)
    b = torch.randn(c.peak_size, c.peak_size, generator=g)
    paths = {
        "route": lambda: router(x),
        "permute": lambda: _permute_only(x, routing),
        "loop": lambda: dispatch_loop(x, routing, experts),
        "sorted": lambda: dispatch_sorted(x, routing, experts),
        "one_piece": lambda: _one_piece(xa, experts),
        "grouped": lambda: _pre_grouped(xg, experts),
        "weights": lambda: experts.w1.sum() + experts.w2.sum(),
        "ideal": lambda: experts.grouped(xg),
        "dense": lambda: dispatch_dense(x, routing, experts),
        "peak": lambda: a @ b,
    }
    if not dense:
        del paths["dense"]
    with torch.no_grad():
        routing = router(x)
        times = paired_times(paths, rounds=c.repeats, warmup=1)  # every path in every round, order alternating
    times["floor"] = [min(a, b) for a, b in zip(times["one_piece"], times["grouped"])]  # per round: the faster
    ms = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}
    pairs = {
        "loop/floor": ("loop", "floor"),
        "sorted/floor": ("sorted", "floor"),
        "ideal/floor": ("ideal", "floor"),
        "loop/ideal": ("loop", "ideal"),
        "sorted/ideal": ("sorted", "ideal"),
        "dense/sorted": ("dense", "sorted"),
        "dense/loop": ("dense", "loop"),
        "loop/sorted": ("loop", "sorted"),
    }
    paired = {name: paired_ratio(times, slow, fast) for name, (slow, fast) in pairs.items() if slow in times}
    useful = expert_flops(c.tokens * c.k, c.d_model, c.d_hidden)  # FLOPs of the chosen experts
    flops = {name: useful for name in ("loop", "sorted", "floor", "one_piece", "grouped", "ideal")}
    flops["peak"] = 2.0 * c.peak_size**3
    if dense:
        flops["dense"] = expert_flops(c.tokens * c.n_experts, c.d_model, c.d_hidden)
    gflops = {name: f / (ms[name] * 1e6) for name, f in flops.items()}
    # per round: (useful / t_path) / (peak FLOPs / t_peak) = (t_peak / t_path) · useful / peak FLOPs
    of_peak = {name: paired_ratio(times, "peak", name) for name in ("loop", "sorted", "floor")}
    scale = useful / flops["peak"]
    floor_fraction = paired_ratio(times, "floor", "sorted")  # floor / sorted per round: 1 = at the floor
    bound = {"bound": [max(f, w) for f, w in zip(times["floor"], times["weights"])], "sorted": times["sorted"]}
    bound_fraction = paired_ratio(bound, "bound", "sorted")  # max(compute floor, memory floor) / sorted
    layer = ms["route"] + ms["sorted"]
    return {
        "config": asdict(c),
        "environment": describe_environment(),
        "median_ms": ms,
        "gflops": gflops,
        "ratios": {name: r.median for name, r in paired.items()},  # medians of per-round time ratios
        "ratio_iqr": {name: [r.q1, r.q3] for name, r in paired.items()},
        "fraction_of_peak": {name: gflops[name] / gflops["peak"] for name in flops if name != "peak"},
        "paired_fraction_of_peak": {
            name: [scale * r.median, scale * r.q1, scale * r.q3] for name, r in of_peak.items()
        },
        "sorted_fraction_of_floor": [floor_fraction.median, floor_fraction.q1, floor_fraction.q3],
        "sorted_fraction_of_bound": [bound_fraction.median, bound_fraction.q1, bound_fraction.q3],
        "weight_mb": 4e-6 * (experts.w1.numel() + experts.w2.numel()),
        "rows_per_expert": c.tokens * c.k / c.n_experts,
        "routing_share": (ms["route"] + ms["permute"]) / layer,
        "router_max_violation": max_violation(load_fractions(routing.indices, c.n_experts)),
    }


#: The chapter's targets for the fast path: ratio name -> (bound, "at most" or "at least").
TARGETS = {"sorted/floor": (1.2, "at most"), "dense/sorted": (4.0, "at least")}


def target_outcomes(result: dict) -> dict[str, str]:
    """Per target: "met" / "not met" when the whole IQR of the per-round ratio (or, for results
    saved before paired rounds, the median) is on one side of the bound, else "inconclusive"."""
    out = {}
    for name, (bound, side) in TARGETS.items():
        low, high = result.get("ratio_iqr", {}).get(name, [result["ratios"][name]] * 2)
        ok, bad = (high <= bound, low > bound) if side == "at most" else (low >= bound, high < bound)
        out[name] = "met" if ok else "not met" if bad else "inconclusive"
    return out


def saved_result() -> dict:
    """The full-size result shipped with the package (``spark_edu/data/moe/bench.json``)."""
    return load_json("moe", "bench.json")


#: What each timed path does, for the report's table.
PATHS = {
    "loop": "one index-mask pass per expert",
    "sorted": "permute, contiguous slices, un-permute",
    "floor": "per round, the faster of the next two",
    "one_piece": "one MLP on all T·K rows",
    "grouped": "E MLPs on pre-grouped rows",
    "ideal": "grouped bmm, equal load",
    "dense": "every expert on every token",
    "peak": "one square matmul",
    "route": "gate matmul, softmax, top-k",
    "permute": "sort, gather, scatter; no expert maths",
}


def _interval(values: list | None) -> tuple | None:
    return None if values is None else tuple(values)


def _case_row(name: str, r: dict) -> list:
    c, ms = r["config"], r["median_ms"]
    fractions = [
        r["sorted_fraction_of_floor"],
        r.get("sorted_fraction_of_bound"),
        r["paired_fraction_of_peak"]["sorted"],
    ]
    times = [ms["loop"], ms["sorted"], ms["floor"], ms.get("weights")]
    return [name, c["tokens"], c["n_experts"], c["d_hidden"], r["rows_per_expert"], *times, *map(_interval, fractions)]


def format_report(result: dict) -> list[Table]:
    """The benchmark as book tables: the paths (median ms, GFLOP/s, share of peak), the ratios
    (median [IQR] of per-round ratios, with the chapter's targets) and, where run, the cases."""
    c, env, ms, gf = result["config"], result["environment"], result["median_ms"], result["gflops"]
    caption = (
        f"MoE dispatch, forward: {c['tokens']} tokens, d={c['d_model']}, experts {c['d_model']}->"
        f"{c['d_hidden']}->{c['d_model']}, E={c['n_experts']}, top-{c['k']}, median of {c['repeats']} paired rounds\n"
        f"torch {env['torch']}, {env['device']}, CPU capability {env['cpu_capability']}, {env['threads']} thread(s)"
    )
    share = result["fraction_of_peak"]
    rows = [[name, ms[name], gf.get(name), share.get(name), what] for name, what in PATHS.items() if name in ms]
    notes = (
        f"routing share of a fast-path layer (route+permute)/(route+sorted): {result['routing_share']:.1%}; "
        f"router MaxVio {result['router_max_violation']:.2f}"
    )
    formats = {"median ms": ".2f", "GFLOP/s": ".1f", "of peak": ".0%"}
    tables = [Table(rows, ["path", "median ms", "GFLOP/s", "of peak", "what it times"], formats, caption, notes)]
    iqr, outcomes = result.get("ratio_iqr", {}), target_outcomes(result)  # no IQR in results before paired rounds
    targets = {name: f"{side} {bound:g}x" for name, (bound, side) in TARGETS.items()}
    ratios = [[k, v, _interval(iqr.get(k)), targets.get(k), outcomes.get(k)] for k, v in result["ratios"].items()]
    caption = "ratios: median and IQR of the per-round ratios"
    tables.append(
        Table(ratios, ["ratio", "median", "IQR", "target", "outcome"], {"median": ".2f", "IQR": ".2f"}, caption)
    )
    if "cases" in result:
        cases = [_case_row("main", result)] + [_case_row(name, r) for name, r in result["cases"].items()]
        columns = ["case", "T", "E", "F", "rows/E", "loop ms", "sorted ms", "floor ms", "weights ms"]
        columns += ["of floor", "of bound", "of peak"]
        formats = {k: ".2f" for k in columns[5:9]} | {k: ".0%" for k in columns[9:]} | {"rows/E": ".0f"}
        caption = (
            "sorted path against the floor (the faster of one MLP on all rows and E MLPs on pre-grouped rows), "
            "the bound max(floor, weight read) and the peak, per case (median [IQR] of per-round ratios)"
        )
        tables.append(Table(cases, columns, formats, caption))
    return tables
