"""Measuring, not asserting: wall-clock medians and peak memory of a callable.

Times are medians over repeats after warm-up (``time.perf_counter``; CUDA synchronised).
Peak memory on CPU comes from the torch profiler's allocation events (the running sum of
bytes allocated minus freed, maximised over time); on CUDA from the caching allocator.
Compare speeds only as ratios measured in one run: machines of this class differ.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from spark_edu.validation import check_positive_int


@dataclass(frozen=True)
class Timing:
    median_s: float
    min_s: float
    max_s: float
    repeats: int

    @property
    def median_ms(self) -> float:
        return 1e3 * self.median_s


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_it(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device=None) -> Timing:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    check_positive_int("repeats", repeats)
    check_positive_int("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), min(times), max(times), repeats)


def peak_memory_bytes(fn: Callable[[], object], device=None) -> int:
    """Peak bytes allocated by torch while ``fn()`` runs, above what was live before."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    from torch.profiler import ProfilerActivity, profile

    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # self (not inclusive) usage: a nested op (matmul -> mm) must not count its allocation twice
    events = [e for e in prof.events() if e.self_cpu_memory_usage != 0]
    events.sort(key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


@contextlib.contextmanager
def _native_stderr_silenced():
    """The profiler's C++ side logs start/stop lines to file descriptor 2; drop them."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


#: Two-sided 95% Student-t quantiles by degrees of freedom (scipy.stats.t.ppf(0.975, df)).
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    19: 2.093,
    29: 2.045,
}


def mean_interval(values, low: float = -math.inf, high: float = math.inf) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over seeds, ``mean ± t₀.₉₇₅(n−1)·s/√n``, clipped to [low, high].

    For degrees of freedom missing from the table the next smaller one is used (a wider,
    conservative interval). One value gives a zero-width interval.
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must not be empty")
    mean = statistics.fmean(values)
    if len(values) == 1:
        return mean, mean, mean
    df = len(values) - 1
    t = _T975[max(k for k in _T975 if k <= df)]
    half = t * statistics.stdev(values) / math.sqrt(len(values))
    return mean, max(low, mean - half), min(high, mean + half)
