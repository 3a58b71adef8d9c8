"""Experiments of the first chapter: attention weights on a toy example, and how the time
and memory of dense attention grow with sequence length.

Dense attention materialises the (T × S) score matrix, so its memory grows as n² and its
time as n² · D once n is large enough for the matrix products to dominate.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch

from spark_edu.attention import attention, causal, dense_mask
from spark_edu.device import threads
from spark_edu.measure import paired_times, peak_memory_bytes
from spark_edu.validation import check_positive_int


@dataclass(frozen=True)
class ScalingPoint:
    length: int
    median_ms: float
    peak_bytes: int
    score_matrix_bytes: int  # B · H · T · S · 4 bytes: what dense attention must hold


def toy_qkv(length: int = 8, dim: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Small (T, D) queries, keys and values drawn from a seeded generator."""
    check_positive_int("length", length)
    check_positive_int("dim", dim)
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(length, dim, generator=g) for _ in range(3))


def measure_dense_scaling(
    lengths=(128, 256, 512, 1024, 2048),
    heads: int = 4,
    dim: int = 64,
    rounds: int = 7,
    masked: bool = False,
    n_threads: int | None = 1,
) -> list[ScalingPoint]:
    """Median time and peak memory of the reference ``attention`` for each sequence length.

    Every length runs in every round, back to back, the order alternating
    (:func:`spark_edu.measure.paired_times`), so a machine that slows down mid-run slows every
    length alike; on ``n_threads`` threads (one by default: small products then scale as the
    arithmetic does, not as thread start-up does).
    """
    runs = {}
    for n in lengths:
        check_positive_int("length", n)
        g = torch.Generator().manual_seed(n)
        q, k, v = (torch.randn(1, heads, n, dim, generator=g) for _ in range(3))  # (B, H, T, D)
        mask = dense_mask(causal, n) if masked else None  # (T, T)
        runs[n] = lambda q=q, k=k, v=v, mask=mask: attention(q, k, v, mask)
    with threads(n_threads):
        times = paired_times(runs, rounds=rounds, warmup=1)
    return [
        ScalingPoint(n, 1e3 * statistics.median(times[n]), peak_memory_bytes(runs[n]), heads * n * n * 4)
        for n in lengths
    ]


def loglog_slope(xs, ys) -> float:
    """Least-squares slope of log y against log x: the measured growth exponent."""
    lx = torch.tensor([math.log(x) for x in xs], dtype=torch.float64)
    ly = torch.tensor([math.log(y) for y in ys], dtype=torch.float64)
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())
