"""Expert parallelism on this machine: what does the all_to_all cost beside the experts?

For each world size W, W fresh processes (gloo on CPU, NCCL on CUDA) each hold E/W experts
of an :class:`~spark_edu.moe.expert_parallel.ExpertParallelMoE` and route their own
``tokens`` (weak scaling: T per rank, so every rank does about T·K expert rows whatever W).
Times the forward pass (no gradient), median over ``repeats`` after ``warmup``, every repeat
starting from a barrier, and splits it into routing (router, sort, counts), exchange (the
counts and the two activation all_to_alls, waiting for slower ranks included), experts
(permute and the MLPs) and combine. Reports the slowest rank's medians (the layer is as
slow as its slowest rank) and each rank's; measured bytes sent per rank beside
:func:`~spark_edu.moe.expert_parallel.exchange_bytes` (eq-moe-ep-bytes), whose uniform-routing
assumption the random router only approximates. Compare ratios, not times: the machine is
shared, and W processes on a 2-core machine share its cores: ``baseline_threads`` adds one
process on as many threads, the fair baseline for W ranks of one thread. With ``record_tokens``
each rank also reports the experts its first tokens chose (the chapter draws where they go).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from spark_edu.device import describe_environment
from spark_edu.display import Table
from spark_edu.moe.expert_parallel import ExpertParallelMoE, exchange_bytes
from spark_edu.moe.layer import MoEConfig
from spark_edu.results import load_json
from spark_edu.validation import check_positive_int, check_range

PHASES = ("routing", "exchange", "experts", "combine")


@dataclass(frozen=True)
class ExpertParallelBenchConfig:
    world_sizes: tuple[int, ...] = (1, 2)
    tokens: int = 4096  # per rank
    d_model: int = 512
    d_hidden: int = 2048
    n_experts: int = 8
    k: int = 2
    repeats: int = 7
    warmup: int = 2
    capacity_factor: float | None = None
    threads_per_rank: int = 1  # torch intra-op threads in each process (W · this ≤ cores is fair)
    seed: int = 0
    timeout_s: float = 300.0  # per world size: collectives and the whole launch
    device: str = "cpu"  # "cuda": NCCL, rank r on cuda:r
    record_tokens: int = 0  # report the chosen experts of each rank's first this-many tokens
    baseline_threads: int = 0  # also run W = 1 on this many threads (the cores the W ranks use); 0: skip

    def __post_init__(self):
        if not self.world_sizes:
            raise ValueError("world_sizes must name at least one world size, got ()")
        for w in self.world_sizes:
            check_positive_int("world_sizes entry", w)
            if self.n_experts % w:
                raise ValueError(f"every world size must divide n_experts={self.n_experts}, got {w}")
        for name in ("tokens", "d_model", "d_hidden", "n_experts", "k", "repeats", "threads_per_rank"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("warmup", self.warmup, minimum=0)
        check_positive_int("seed", self.seed, minimum=0)
        check_positive_int("record_tokens", self.record_tokens, minimum=0)
        check_positive_int("baseline_threads", self.baseline_threads, minimum=0)
        check_range("timeout_s", self.timeout_s, 0.0, low_inclusive=False)
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        _ = self.moe_config  # validates k, capacity_factor

    @property
    def moe_config(self) -> MoEConfig:
        return MoEConfig(self.d_model, self.d_hidden, self.n_experts, self.k, self.capacity_factor)


def _median_ms(seconds: list[float]) -> float:
    return 1e3 * statistics.median(seconds)


def _bench_rank(rank: int, world_size: int, c: ExpertParallelBenchConfig) -> dict:
    device = torch.device("cuda", rank) if c.device == "cuda" else torch.device("cpu")
    torch.manual_seed(c.seed)  # router and experts; the router is rank 0's on every rank anyway
    layer = ExpertParallelMoE(c.moe_config, timed=True, device=device).eval()
    x = torch.randn(c.tokens, c.d_model, generator=torch.Generator().manual_seed(c.seed + 1 + rank)).to(device)
    totals, phases = [], {p: [] for p in PHASES}
    with torch.no_grad():
        for i in range(c.warmup + c.repeats):
            dist.barrier()
            start = time.perf_counter()
            out = layer(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= c.warmup:
                totals.append(time.perf_counter() - start)
                for p in PHASES:
                    phases[p].append(getattr(layer.last_timings, f"{p}_s"))
    stats, n = layer.last_exchange, min(c.record_tokens, c.tokens)
    return {
        "rank": rank,
        "median_ms": {"total": _median_ms(totals), **{p: _median_ms(v) for p, v in phases.items()}},
        "bytes_sent": stats.bytes_sent,
        "bytes_received": stats.bytes_received,
        "control_bytes": stats.control_bytes,
        "tokens_to_rank": list(stats.tokens_to_rank),
        "kept_fraction": sum(stats.tokens_to_rank) / (c.tokens * c.k),
        "bytes_per_element": x.element_size(),
        "first_tokens": {  # (n, K) chosen experts, best first, and whether each one had room
            "experts": out.routing.indices[:n].tolist(),
            "kept": out.routing.kept[:n].tolist(),
        },
    }


def _worker(rank: int, world_size: int, port: int, c: ExpertParallelBenchConfig, out_dir: str) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(c.threads_per_rank)  # this process only; it ends with the benchmark
    try:
        if c.device == "cuda":
            torch.cuda.set_device(rank)
        backend = "nccl" if c.device == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world_size, timeout=timedelta(seconds=c.timeout_s))
        result = _bench_rank(rank, world_size, c)
    except Exception as err:  # noqa: BLE001 - reported to the parent, which raises
        result = {"rank": rank, "error": f"{type(err).__name__}: {err}"}
    (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(result))
    if dist.is_initialized() and "error" not in result:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(world_size: int, c: ExpertParallelBenchConfig) -> list[dict]:
    """One process per rank; joined within ``timeout_s``, survivors terminated, then killed."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as out_dir:
        args = (world_size, _free_port(), c, out_dir)
        procs = [ctx.Process(target=_worker, args=(rank, *args)) for rank in range(world_size)]
        start = time.perf_counter()
        try:
            for p in procs:
                p.start()
            for p in procs:
                p.join(timeout=max(0.1, c.timeout_s - (time.perf_counter() - start)))
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
        files = [Path(out_dir) / f"rank{rank}.json" for rank in range(world_size)]
        results = [json.loads(f.read_text()) if f.exists() else None for f in files]
    problems = [
        f"rank {r}: " + (res["error"] if res else f"no result (exit code {p.exitcode})")
        for r, (res, p) in enumerate(zip(results, procs))
        if res is None or "error" in res
    ]
    if problems:
        raise RuntimeError(f"expert-parallel benchmark failed at world size {world_size}: " + "; ".join(problems))
    return results


def run_expert_parallel_benchmark(
    world_sizes=(1, 2),
    tokens: int = 4096,
    d_model: int = 512,
    d_hidden: int = 2048,
    n_experts: int = 8,
    k: int = 2,
    repeats: int = 7,
    warmup: int = 2,
    capacity_factor: float | None = None,
    threads_per_rank: int = 1,
    seed: int = 0,
    timeout_s: float = 300.0,
    device: str = "cpu",
    record_tokens: int = 0,
    baseline_threads: int = 0,
) -> dict:
    """Time the expert-parallel forward at each world size; returns a JSON-able dict (see the module)."""
    c = ExpertParallelBenchConfig(
        world_sizes=tuple(world_sizes), tokens=tokens, d_model=d_model, d_hidden=d_hidden, n_experts=n_experts, k=k,
        repeats=repeats, warmup=warmup, capacity_factor=capacity_factor, threads_per_rank=threads_per_rank,
        seed=seed, timeout_s=timeout_s, device=device, record_tokens=record_tokens,
        baseline_threads=baseline_threads,
    )  # fmt: skip
    kept = 1.0 if capacity_factor is None else min(1.0, capacity_factor)  # uniform load: C = c·T·K/E places
    runs, start = [], time.perf_counter()
    plan = [(w, c.threads_per_rank) for w in c.world_sizes] + [(1, c.baseline_threads)] * (c.baseline_threads > 0)
    for i, (w, n_threads) in enumerate(plan):
        launched = time.perf_counter()
        ranks = _launch(w, replace(c, threads_per_rank=n_threads))
        predicted = exchange_bytes(tokens, k, d_model, ranks[0]["bytes_per_element"], w, kept)
        sent = statistics.mean(r["bytes_sent"] for r in ranks)
        ms = {p: max(r["median_ms"][p] for r in ranks) for p in ("total", *PHASES)}
        runs.append(
            {
                "world_size": w,
                "threads_per_rank": n_threads,
                "baseline": i >= len(c.world_sizes),  # the extra one-process run on baseline_threads
                "experts_per_rank": n_experts // w,
                "median_ms": ms,
                "tokens_per_s": w * tokens / (ms["total"] / 1e3),  # W·T tokens per forward, at the slowest rank
                "bytes_sent_per_rank": sent,
                "predicted_bytes_per_rank": predicted,
                "measured_over_predicted": sent / predicted if predicted else None,
                "per_rank": ranks,
                "launch_s": time.perf_counter() - launched,  # spawning, start-up, warm-up and repeats
            }
        )
    return {
        "config": {**asdict(c), "world_sizes": list(c.world_sizes)},
        "environment": describe_environment(),
        "runs": runs,
        "wall_s": time.perf_counter() - start,
    }


def speedups(result: dict) -> dict[str, float]:
    """Throughput (W·T tokens per forward) of each W > 1 over W = 1 on the same threads per rank
    (``"W=2"``) and over the one-process baseline on ``baseline_threads`` (``"W=2 vs baseline"``)."""
    main = {run["world_size"]: run for run in result["runs"] if not run.get("baseline")}
    base = [run for run in result["runs"] if run.get("baseline")]
    out = {}
    for w, run in main.items():
        if w > 1 and 1 in main:
            out[f"W={w}"] = run["tokens_per_s"] / main[1]["tokens_per_s"]
        if w > 1 and base:
            out[f"W={w} vs baseline"] = run["tokens_per_s"] / base[0]["tokens_per_s"]
    return out


def format_report(result: dict) -> Table:
    """The benchmark as a book table, one row per run (slowest rank's medians), the cost model below."""
    c, env = result["config"], result["environment"]
    backend = "nccl" if c["device"] == "cuda" else "gloo"
    caption = (
        f"Expert-parallel MoE, forward: {c['tokens']} tokens per rank, d={c['d_model']}, "
        f"experts {c['d_model']}->{c['d_hidden']}->{c['d_model']}, E={c['n_experts']}, top-{c['k']}, "
        f"capacity {c['capacity_factor']}, median of {c['repeats']} after {c['warmup']} warm-up\n"
        f"torch {env['torch']}, {c['device']} ({backend}), CPU capability {env['cpu_capability']}"
    )
    columns = ["W", "E/rank", "thr", "total ms", "routing", "exchange", "experts", "combine", "tokens/s"]
    columns += ["MB sent/rank", "model MB", "ratio"]
    rows = []
    for run in result["runs"]:
        ms = run["median_ms"]
        rows.append(
            [run["world_size"], run["experts_per_rank"], run["threads_per_rank"]]
            + [ms[k] for k in ("total", "routing", "exchange", "experts", "combine")]
            + [run["tokens_per_s"], run["bytes_sent_per_rank"] / 1e6, run["predicted_bytes_per_rank"] / 1e6]
            + [run["measured_over_predicted"]]
        )
    formats = {k: ".1f" for k in columns[3:8]} | {"tokens/s": ".0f", "MB sent/rank": ".3f", "model MB": ".3f"}
    b = result["runs"][0]["per_rank"][0]["bytes_per_element"]
    kept = 1.0 if c["capacity_factor"] is None else min(1.0, c["capacity_factor"])
    notes = [
        "times: the slowest rank's median per phase (ms), thr = torch threads per rank; "
        "bytes: activations that left the rank, dispatch + return",
        f"cost model (eq-moe-ep-bytes): 2·T·K·kept·(W−1)/W·D·b = 2·{c['tokens']}·{c['k']}·{kept:g}·(W−1)/W"
        f"·{c['d_model']}·{b} bytes per rank; ratio = measured / model",
    ]
    ups = speedups(result)
    if ups:
        notes.append("throughput over W=1: " + ", ".join(f"{key} {value:.2f}x" for key, value in ups.items()))
    return Table(rows, columns, formats | {"ratio": ".3f"}, caption, "\n".join(notes))


def saved_expert_parallel() -> dict:
    """The run shipped with the package (``spark_edu/data/moe/expert_parallel.json``)."""
    return load_json("moe", "expert_parallel.json")


__all__ = [
    "ExpertParallelBenchConfig",
    "format_report",
    "run_expert_parallel_benchmark",
    "saved_expert_parallel",
    "speedups",
]
