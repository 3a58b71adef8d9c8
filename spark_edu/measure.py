"""Measuring, not asserting: wall-clock medians and peak memory of a callable.

Times are medians over repeats after warm-up (``time.perf_counter``; CUDA synchronised).
Speed comparisons are *paired*: :func:`paired_times` times every candidate back to back in
each round (order alternating), and :func:`paired_ratio` reports the median and interquartile
range of the per-round ratios, with the thread count they ran on.
Peak memory on CPU comes from the torch profiler's per-allocation timeline (the running sum
of bytes allocated minus freed, in time order, maximised); on CUDA from the caching allocator.
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


@dataclass(frozen=True)
class PairedRatio:
    """``baseline / candidate`` time, one ratio per round (> 1: the candidate is faster).

    ``median`` and the interquartile range ``[q1, q3]`` are over the per-round ratios, so a
    machine that slows down between rounds slows both sides of each ratio alike.
    """

    median: float
    q1: float
    q3: float
    rounds: int
    baseline_ms: float  # median over rounds
    candidate_ms: float
    threads: int

    def __str__(self) -> str:
        return f"{self.median:.2f}x (IQR {self.q1:.2f}–{self.q3:.2f}, {self.rounds} rounds, {self.threads} threads)"


def paired_times(fns: dict[str, Callable[[], object]], rounds: int = 7, warmup: int = 1, device=None):
    """Seconds per round of every callable in ``fns``, timed back to back within each round.

    Each round runs all of them one after another, in the given order on even rounds and in
    reverse on odd ones (so none always runs first); ``warmup`` untimed rounds come first.
    Returns ``{name: [seconds per round]}``.
    """
    check_positive_int("rounds", rounds)
    check_positive_int("warmup", warmup, minimum=0)
    if not fns:
        raise ValueError("fns must hold at least one callable")
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    _sync(device)
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return times


def paired_ratio(times: dict[str, list[float]], baseline: str, candidate: str) -> PairedRatio:
    """Median and IQR of the per-round ratios ``times[baseline][r] / times[candidate][r]``."""
    for name in (baseline, candidate):
        if name not in times:
            raise ValueError(f"{name!r} is not among the timed callables {sorted(times)}")
    ratios = [b / c for b, c in zip(times[baseline], times[candidate])]
    q1, q2, q3 = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
    return PairedRatio(
        q2,
        q1,
        q3,
        len(ratios),
        1e3 * statistics.median(times[baseline]),
        1e3 * statistics.median(times[candidate]),
        torch.get_num_threads(),
    )


def peak_memory_bytes(fn: Callable[[], object], device=None) -> int:
    """Peak bytes allocated by torch while ``fn()`` runs, above what was live before.

    CUDA: the caching allocator's own peak statistic. CPU: the profiler's per-allocation
    timeline (every allocation and free, in time order, the running sum maximised), so a free
    made inside an operator, or a buffer an operator allocates and frees before returning,
    counts exactly when it happens.
    """
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    return peak_of_timeline(allocation_timeline(fn))


def allocation_timeline(fn: Callable[[], object]) -> list[tuple[int, int]]:
    """``(time_ns, bytes)`` for every CPU allocation (+) and free (−) torch makes in ``fn()``."""
    from torch.profiler import ProfilerActivity, profile

    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    cpu = [e for e in events if e.device_type() == torch.autograd.DeviceType.CPU]
    return sorted((e.start_ns(), e.nbytes()) for e in cpu)


def peak_of_timeline(timeline: list[tuple[int, int]]) -> int:
    """The largest running sum of allocated bytes along a time-ordered allocation timeline."""
    live = peak = 0
    for _, nbytes in timeline:
        live += nbytes
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
