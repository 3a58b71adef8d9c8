"""Time and peak memory against sequence length, dense attention beside a fixed-width local window.

For each length n (1024 … 8192; B 1, H 4, D 64, fp32, one thread) one forward pass of:

* dense fused SDPA (the baseline: it streams, it never holds the n × n scores);
* the project's kernels for the band ``|i − j| ≤ w`` with a fixed half-width ``w = 128`` (a
  window 257 tokens wide, whatever n): the band kernel, the gathered-block kernel and the
  grouped kernel (tiles of 128). Its work grows as n · (b + 2w), linearly in n.

Times come from paired rounds (:func:`spark_edu.measure.paired_times`: every kernel and every
length back to back in each round, so per round one exponent can be fitted); peak memory from
:func:`spark_edu.measure.peak_memory_bytes`, plus the dense pass with SDPA's math backend, which
stores the (B, H, n, n) scores as a plain attention does (:func:`materialising_peak_mb`).

:func:`loglog_slope` fits ``time ∝ nᵃ``; :func:`slopes_by_round` fits it round by round, for the
median and interquartile range the statements quote (:mod:`.statements`).
``python -m spark_edu run sparse_attention --length-scaling`` writes ``length_scaling.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

from spark_edu.attention import masks
from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.gathered import gathered_block_attention, make_plan
from spark_edu.attention.grouped import grouped_block_attention, make_groups
from spark_edu.attention.window import sliding_window_attention
from spark_edu.chapters.attention_from_scratch.experiments import loglog_slope
from spark_edu.device import cpu_capability, threads
from spark_edu.measure import paired_times, peak_memory_bytes
from spark_edu.results import data_dir, write_atomic
from spark_edu.validation import check_positive_int

LENGTH_SCALING = "length_scaling.json"  # the saved file's name in the chapter's data folder
LENGTHS = (1024, 2048, 4096, 8192)
WINDOW = 128  # half-width w: |i − j| ≤ 128 keeps 257 keys per query, the "256-token" window
KERNELS = ("band", "gathered", "grouped")
COMMAND = "python -m spark_edu run sparse_attention --length-scaling"


def _kernels(q, k, v, window: int, block_size: int) -> dict:
    """The callables for one length: dense SDPA and the project's kernels for the band."""
    n = q.shape[-2]
    layout = BlockLayout.from_predicate(masks.sliding_window(window), n, n, block_size)
    plan, groups = make_plan(layout), make_groups(layout, q.device, q.dtype)
    return {
        "sdpa": lambda: F.scaled_dot_product_attention(q, k, v),
        "band": lambda: sliding_window_attention(q, k, v, window, block_size),
        "gathered": lambda: gathered_block_attention(q, k, v, layout, plan),
        "grouped": lambda: grouped_block_attention(q, k, v, layout, groups),
    }


def materialising_peak_mb(q, k, v) -> float:
    """Peak MB of dense SDPA forced to its math backend, which stores the scores."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        return peak_memory_bytes(lambda: F.scaled_dot_product_attention(q, k, v)) / 2**20


def measure(
    lengths=LENGTHS,
    window: int = WINDOW,
    block_size: int = 128,
    heads: int = 4,
    dim: int = 64,
    rounds: int = 5,
    n_threads: int | None = 1,
) -> dict:
    """Per length: per-round seconds and peak MB of every kernel (module docstring)."""
    for name, value in (("window", window), ("block_size", block_size), ("heads", heads), ("dim", dim)):
        check_positive_int(name, value)
    lengths = tuple(lengths)
    if len(lengths) < 2:
        raise ValueError(f"lengths must hold at least two lengths to fit a slope, got {lengths!r}")
    start = time.perf_counter()
    with threads(n_threads):
        load = [os.getloadavg()]
        fns, inputs = {}, {}
        for n in lengths:
            check_positive_int("lengths", n)
            g = torch.Generator().manual_seed(n)
            inputs[n] = tuple(torch.randn(1, heads, n, dim, generator=g) for _ in range(3))  # (B, H, n, D)
            for path, fn in _kernels(*inputs[n], window, block_size).items():
                fns[(n, path)] = fn
        times = paired_times(fns, rounds=rounds, warmup=1)
        points = []
        for n in lengths:
            points.append(
                {
                    "length": n,
                    "seconds": {p: times[(n, p)] for p in ("sdpa", *KERNELS)},
                    "peak_mb": {p: peak_memory_bytes(fns[(n, p)]) / 2**20 for p in ("sdpa", *KERNELS)},
                    "materialising_mb": materialising_peak_mb(*inputs[n]),
                }
            )
        load.append(os.getloadavg())
        used = torch.get_num_threads()
    return {
        "config": {"window": window, "block_size": block_size, "batch": 1, "heads": heads, "dim": dim},
        "rounds": rounds,
        "threads": used,
        "cpu_capability": cpu_capability(),
        "torch": torch.__version__,
        "load_average": load,
        "points": points,
        "seconds": time.perf_counter() - start,
        "command": COMMAND,
    }


def median_ms(point: dict, path: str) -> float:
    return 1e3 * statistics.median(point["seconds"][path])


def fastest_sparse(point: dict) -> str:
    """The project kernel with the lowest median time at this length."""
    return min(KERNELS, key=lambda path: median_ms(point, path))


def slopes_by_round(lengths, seconds_by_round: list[list[float]]) -> list[float]:
    """One fitted exponent per round: ``seconds_by_round[i][r]`` is length i's time in round r."""
    rounds = {len(s) for s in seconds_by_round}
    if len(rounds) != 1 or len(seconds_by_round) != len(lengths):
        raise ValueError("seconds_by_round must give every length the same number of rounds")
    return [loglog_slope(lengths, [s[r] for s in seconds_by_round]) for r in range(rounds.pop())]


def summary(data: dict) -> dict:
    """The plain numbers the statements take: lengths, per-round seconds, peak MB, kernels."""
    points = data["points"]
    fastest = [fastest_sparse(p) for p in points]
    return {
        "lengths": [p["length"] for p in points],
        "window": data["config"]["window"],
        "dense_seconds": [p["seconds"]["sdpa"] for p in points],
        "sparse_seconds": [p["seconds"][f] for p, f in zip(points, fastest)],
        "sparse_kernels": fastest,
        "dense_mb": [p["peak_mb"]["sdpa"] for p in points],
        "sparse_mb": [p["peak_mb"][f] for p, f in zip(points, fastest)],
        "kernel_mb": {k: [p["peak_mb"][k] for p in points] for k in KERNELS},
        "materialising_mb": [p["materialising_mb"] for p in points],
    }


def load_saved() -> dict | None:
    """The saved ``length_scaling.json``, or None before it is written."""
    path = data_dir("sparse_attention") / LENGTH_SCALING
    return json.loads(path.read_text()) if path.exists() else None


def run_and_save(path=None, **kwargs) -> dict:
    """:func:`measure` and write it (default: the chapter's data folder)."""
    data = measure(**kwargs)
    write_atomic(path or data_dir("sparse_attention") / LENGTH_SCALING, json.dumps(data, indent=1))
    return data
