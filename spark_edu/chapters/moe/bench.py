"""``python -m spark_edu bench moe``: what does MoE dispatch really cost?

Times, in one run and on one input, the forward pass of:

* ``loop``   — :func:`~spark_edu.moe.dispatch_loop`, one index-mask pass per expert;
* ``sorted`` — :func:`~spark_edu.moe.dispatch_sorted`, permute / contiguous slices / un-permute;
* ``ideal``  — :meth:`~spark_edu.moe.Experts.grouped` on tokens already grouped with equal
  load (two batched matmuls): the floor any dispatch can hope for;
* ``dense``  — :func:`~spark_edu.moe.dispatch_dense`, every expert on every token (E/K × FLOPs);
* ``route``  — the router itself (gate matmul, softmax, top-k), and ``permute`` — sorting,
  gathering and scattering the tokens with the expert maths left out;
* ``peak``   — one square float32 matmul, the machine's measured matmul rate.

Every path runs in every round, back to back, the order alternating between rounds
(:func:`spark_edu.measure.paired_times`). Reports medians, ratios as the median and IQR of
per-round ratios, achieved GFLOP/s against ``peak``, and routing's share of a full fast-path
layer (route + permute over route + sorted). Compare ratios, not times: the
machine is shared and machines of one class differ.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import torch

from spark_edu.device import describe_environment, threads
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

    def __post_init__(self):
        for name in ("tokens", "d_model", "d_hidden", "n_experts", "k", "repeats", "peak_size"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("threads", self.threads, minimum=0)
        if self.tokens * self.k % self.n_experts:
            raise ValueError(
                f"tokens·k must be divisible by n_experts for the equal-load ideal, got "
                f"{self.tokens}·{self.k} and {self.n_experts}"
            )


def _permute_only(x: torch.Tensor, routing) -> torch.Tensor:
    token, gate, _ = sort_by_expert(routing)  # (A,), (A,)
    return torch.zeros_like(x).index_add_(0, token, x.index_select(0, token) * gate[:, None])  # (T, D), no expert maths


def run_benchmark(config: BenchConfig = BenchConfig()) -> dict:
    """Time every path on one seeded input; returns medians (ms), ratios, GFLOP/s, shares."""
    with threads(config.threads or None):
        return _run(config)


def _run(c: BenchConfig) -> dict:
    g = torch.Generator().manual_seed(c.seed)
    with torch.random.fork_rng():
        torch.manual_seed(c.seed)
        router = Router(RouterConfig(c.d_model, c.n_experts, c.k)).eval()
        experts = Experts(c.n_experts, c.d_model, c.d_hidden)
    x = torch.randn(c.tokens, c.d_model, generator=g)  # (T, D)
    xg = torch.randn(c.n_experts, c.tokens * c.k // c.n_experts, c.d_model, generator=g)  # (E, T·K/E, D)
    a = torch.randn(c.peak_size, c.peak_size, generator=g)
    b = torch.randn(c.peak_size, c.peak_size, generator=g)
    paths = {
        "route": lambda: router(x),
        "permute": lambda: _permute_only(x, routing),
        "loop": lambda: dispatch_loop(x, routing, experts),
        "sorted": lambda: dispatch_sorted(x, routing, experts),
        "ideal": lambda: experts.grouped(xg),
        "dense": lambda: dispatch_dense(x, routing, experts),
        "peak": lambda: a @ b,
    }
    with torch.no_grad():
        routing = router(x)
        times = paired_times(paths, rounds=c.repeats, warmup=1)  # every path in every round, order alternating
    ms = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}
    pairs = {
        "loop/ideal": ("loop", "ideal"),
        "sorted/ideal": ("sorted", "ideal"),
        "dense/sorted": ("dense", "sorted"),
        "dense/loop": ("dense", "loop"),
        "loop/sorted": ("loop", "sorted"),
    }
    paired = {name: paired_ratio(times, slow, fast) for name, (slow, fast) in pairs.items()}
    useful = expert_flops(c.tokens * c.k, c.d_model, c.d_hidden)  # FLOPs of the chosen experts
    flops = {
        "loop": useful,
        "sorted": useful,
        "ideal": useful,
        "dense": expert_flops(c.tokens * c.n_experts, c.d_model, c.d_hidden),
        "peak": 2.0 * c.peak_size**3,
    }
    gflops = {name: f / (ms[name] * 1e6) for name, f in flops.items()}
    layer = ms["route"] + ms["sorted"]
    return {
        "config": asdict(c),
        "environment": describe_environment(),
        "median_ms": ms,
        "gflops": gflops,
        "ratios": {name: r.median for name, r in paired.items()},  # medians of per-round time ratios
        "ratio_iqr": {name: [r.q1, r.q3] for name, r in paired.items()},
        "fraction_of_peak": {name: gflops[name] / gflops["peak"] for name in ("loop", "sorted", "ideal", "dense")},
        "routing_share": (ms["route"] + ms["permute"]) / layer,
        "router_max_violation": max_violation(load_fractions(routing.indices, c.n_experts)),
    }


#: The chapter's targets for the fast path: ratio name -> (bound, "at most" or "at least").
TARGETS = {"sorted/ideal": (1.2, "at most"), "dense/sorted": (4.0, "at least")}


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


def format_report(result: dict) -> str:
    """The benchmark as a small fixed-width text report."""
    c, env, ms, gf = result["config"], result["environment"], result["median_ms"], result["gflops"]
    lines = [
        f"MoE dispatch, forward: {c['tokens']} tokens, d={c['d_model']}, experts {c['d_model']}->"
        f"{c['d_hidden']}->{c['d_model']}, E={c['n_experts']}, top-{c['k']}, median of {c['repeats']} paired rounds",
        f"torch {env['torch']}, {env['device']}, CPU capability {env['cpu_capability']}, {env['threads']} thread(s)",
        f"{'path':<8} {'median ms':>10} {'GFLOP/s':>9} {'of peak':>8}",
    ]
    for name in ("loop", "sorted", "ideal", "dense", "peak"):
        share = f"{result['fraction_of_peak'][name]:8.0%}" if name in result["fraction_of_peak"] else " " * 8
        lines.append(f"{name:<8} {ms[name]:10.1f} {gf[name]:9.1f} {share}")
    lines.append(f"{'route':<8} {ms['route']:10.2f}   (gate matmul, softmax, top-k)")
    lines.append(f"{'permute':<8} {ms['permute']:10.2f}   (sort, gather, scatter; no expert maths)")
    iqr = result.get("ratio_iqr", {})  # saved results from before paired rounds have none
    lines.append(
        "ratios (median of per-round ratios, IQR): "
        + ", ".join(
            f"{k} {v:.2f}x" + (f" ({iqr[k][0]:.2f}–{iqr[k][1]:.2f})" if k in iqr else "")
            for k, v in result["ratios"].items()
        )
    )
    lines.append(
        f"routing share of a fast-path layer (route+permute)/(route+sorted): {result['routing_share']:.1%}; "
        f"router MaxVio {result['router_max_violation']:.2f}"
    )
    return "\n".join(lines)
