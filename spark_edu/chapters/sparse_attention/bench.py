"""``python -m spark_edu bench attention``: sparse attention kernels side by side, in one run.

For each length L and pattern it times, in paired rounds (:func:`spark_edu.measure.paired_times`:
every path back to back in each round, the order alternating), dense SDPA (the baseline),
masked dense SDPA, the readable block kernel, the gathered-block kernel (per tile and
grouped), the band kernel (local patterns), and compiled FlexAttention with a ``BlockMask``.
It reports each path's
ratio to dense SDPA (>1 = faster) as the median of the per-round ratios with its
interquartile range, the kernel's own work bound (:func:`work_bound`), the fraction of that
bound reached, each own kernel's paired ratio to compiled flex (``t_flex / t_own`` per
round), and peak memory (:func:`spark_edu.measure.peak_memory_bytes`). Set-up (layouts,
plans, the band's mask, block masks) and compile time are reported separately and excluded.
:mod:`~spark_edu.chapters.sparse_attention.bench_table` writes and reads the rows.

Example: ``python -m spark_edu bench attention --lengths 1024 4096 --repeats 7 --csv out.csv``
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from spark_edu.attention import masks
from spark_edu.attention.block_sparse import block_sparse_attention
from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.dense import attention
from spark_edu.attention.flex import available as flex_available
from spark_edu.attention.flex import flex_block_mask, flex_sparse_attention
from spark_edu.attention.gathered import gathered_block_attention, make_plan
from spark_edu.attention.grouped import grouped_block_attention, make_groups
from spark_edu.attention.window import band_bias, sliding_window_attention
from spark_edu.device import cpu_capability, threads
from spark_edu.measure import paired_ratio, paired_times, peak_memory_bytes
from spark_edu.validation import check_positive_int

#: The report's patterns (Attention Pattern Analysis) plus local 90%: name -> (kind, sparsity).
PATTERNS = {
    "dense": ("dense", 0.0),
    "local60": ("local", 0.6),
    "random80": ("random", 0.8),
    "block70": ("block", 0.7),
    "local90": ("local", 0.9),
}
DEFAULT_PATHS = ("sdpa", "masked_sdpa", "readable", "gathered", "grouped", "band", "flex")
ALL_PATHS = (*DEFAULT_PATHS[:2], "reference", *DEFAULT_PATHS[2:], "flex_noblock", "flex_eager")
PROJECT_PATHS = ("readable", "gathered", "grouped", "band")  # kernels written in this project


@dataclass(frozen=True)
class BenchConfig:
    lengths: tuple[int, ...] = (1024, 4096, 8192)
    patterns: tuple[str, ...] = ("local60", "random80", "block70", "local90")
    paths: tuple[str, ...] = DEFAULT_PATHS
    batch: int = 1
    heads: int = 4
    head_dim: int = 64
    block_size: int = 128
    repeats: int = 7  # paired rounds after the warm-up call
    memory: bool = True  # also measure peak memory (one extra profiled call per path)
    max_reference_len: int = 2048  # the reference and eager flex hold several B·H·L² tensors
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None  # torch threads for the run (restored after); None keeps torch's

    def __post_init__(self):
        for name in ("batch", "heads", "head_dim", "block_size", "repeats"):
            check_positive_int(name, getattr(self, name))
        for length in self.lengths:
            check_positive_int("lengths", length)
        unknown = set(self.patterns) - set(PATTERNS) | set(self.paths) - set(ALL_PATHS)
        if unknown:
            raise ValueError(
                f"unknown patterns/paths {sorted(unknown)}; patterns: {sorted(PATTERNS)}, paths: {list(ALL_PATHS)}"
            )


def make_pattern(name: str, length: int, block_size: int = 128, seed: int = 0):
    """``(predicate, window)`` for a named pattern at length L (window is None unless local)."""
    if name not in PATTERNS:
        raise ValueError(f"pattern must be one of {sorted(PATTERNS)}, got {name!r}")
    kind, sparsity = PATTERNS[name]
    if kind == "dense":
        return masks.full, None
    if kind == "local":
        window = masks.window_for_sparsity(length, sparsity)
        return masks.sliding_window(window), window
    if kind == "random":
        return masks.random_elements(length, sparsity, seed), None
    n_blocks = -(-length // block_size)
    return masks.block_sparse(masks.random_block_layout(n_blocks, sparsity, seed), block_size), None


@dataclass
class Row:
    length: int
    pattern: str
    path: str
    element_sparsity: float
    block_sparsity: float
    bound: float
    median_ms: float
    sdpa_ms: float  # the dense SDPA median from the same rounds
    ratio: float  # median of per-round sdpa / path times: > 1 means faster than dense SDPA
    fraction_of_bound: float  # ratio / path_bound
    peak_mb: float | None
    setup_s: float
    compile_s: float
    cpu_capability: str = field(default_factory=cpu_capability)
    threads: int = field(default_factory=torch.get_num_threads)
    ratio_q1: float | None = None  # interquartile range of the per-round ratios
    ratio_q3: float | None = None
    path_bound: float | None = None  # this kernel's own work bound (see work_bound)
    rounds: int | None = None
    flex_ratio: float | None = None  # median per-round flex / path time (> 1: faster than flex), own kernels
    flex_q1: float | None = None
    flex_q3: float | None = None


def work_bound(path: str, layout: BlockLayout, window: int | None) -> float:
    """The speed-up a kernel would reach if the work it skips cost nothing and the rest cost as
    in dense attention: the tile bound ``1/(1 − s_b)`` for tile kernels, and for the band kernel,
    which computes ``b + 2w`` keys per query whatever the tiles, ``S / (b + 2w)``."""
    if path == "band" and window is not None:
        return layout.kv_len / min(layout.kv_len, layout.block_size + 2 * window)
    return layout.bound


def _paths_for(config: BenchConfig, kind: str, length: int, q, k, v, predicate, window, layout):
    """The callables to time for one (length, pattern), with their set-up seconds."""
    fns, setup = {}, {}
    for path in config.paths:
        start = time.perf_counter()
        if path == "sdpa":
            fns[path] = lambda: F.scaled_dot_product_attention(q, k, v)
        elif path == "masked_sdpa":
            mask = layout.dense().to(q.device)
            fns[path] = lambda mask=mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        elif path == "reference" and length <= config.max_reference_len:
            mask = layout.dense().to(q.device)
            fns[path] = lambda mask=mask: attention(q, k, v, mask)
        elif path == "readable":
            fns[path] = lambda: block_sparse_attention(q, k, v, layout)
        elif path == "gathered":
            plan = make_plan(layout, q.device)
            fns[path] = lambda plan=plan: gathered_block_attention(q, k, v, layout, plan)
        elif path == "grouped":
            groups = make_groups(layout, q.device, q.dtype)
            fns[path] = lambda groups=groups: grouped_block_attention(q, k, v, layout, groups)
        elif path == "band" and kind == "local":
            bias = band_bias(length, window, config.block_size, q.device, q.dtype)
            fns[path] = lambda bias=bias: sliding_window_attention(q, k, v, window, config.block_size, bias)
        elif (
            path.startswith("flex")
            and flex_available()
            and (path != "flex_eager" or length <= config.max_reference_len)
        ):
            block_mask = None
            if path != "flex_noblock":
                block_mask = flex_block_mask(predicate, length, length, config.block_size, q.device)
            compiled = path != "flex_eager"
            fns[path] = lambda bm=block_mask, c=compiled: flex_sparse_attention(
                q, k, v, bm, predicate=predicate, compiled=c
            )
        setup[path] = time.perf_counter() - start
    return fns, setup


def run(config: BenchConfig = BenchConfig(), progress=None) -> list[Row]:
    """Time every (length, pattern, path) of ``config``; returns one :class:`Row` each."""
    with threads(config.threads or None):
        return _run(config, progress)


def _run(config: BenchConfig, progress=None) -> list[Row]:
    rows = []
    generator = torch.Generator().manual_seed(config.seed)
    for length in config.lengths:
        shape = (config.batch, config.heads, length, config.head_dim)
        q, k, v = (torch.randn(shape, generator=generator).to(config.device) for _ in range(3))
        for name in config.patterns:
            if progress:
                progress(f"L={length} {name}")
            kind = PATTERNS[name][0]
            predicate, window = make_pattern(name, length, config.block_size, config.seed)
            start = time.perf_counter()
            layout = BlockLayout.from_predicate(predicate, length, length, config.block_size)
            layout_s = time.perf_counter() - start
            fns, setup = _paths_for(config, kind, length, q, k, v, predicate, window, layout)
            fns = {"sdpa": lambda: F.scaled_dot_product_attention(q, k, v), **fns}  # always the baseline
            first = {}
            for path, fn in fns.items():  # warm-up call: compiles flex, fills caches
                start = time.perf_counter()
                fn()
                first[path] = time.perf_counter() - start
            times = paired_times(fns, rounds=config.repeats, warmup=0, device=config.device)
            element = masks.element_sparsity(layout.dense())
            for path in fns:
                if path == "sdpa" and "sdpa" not in config.paths:
                    continue
                peak = peak_memory_bytes(fns[path], config.device) / 2**20 if config.memory else None
                paired = paired_ratio(times, "sdpa", path)
                own_bound = work_bound(path, layout, window)
                compile_s = (
                    max(first[path] - paired.candidate_ms / 1e3, 0.0) if path in ("flex", "flex_noblock") else 0.0
                )
                vs_flex = paired_ratio(times, "flex", path) if path in PROJECT_PATHS and "flex" in times else None
                rows.append(
                    Row(
                        length,
                        name,
                        path,
                        element,
                        layout.block_sparsity,
                        layout.bound,
                        paired.candidate_ms,
                        paired.baseline_ms,
                        paired.median,
                        paired.median / own_bound,
                        peak,
                        layout_s + setup.get(path, 0.0),
                        compile_s,
                        ratio_q1=paired.q1,
                        ratio_q3=paired.q3,
                        path_bound=own_bound,
                        rounds=paired.rounds,
                        flex_ratio=None if vs_flex is None else vs_flex.median,
                        flex_q1=None if vs_flex is None else vs_flex.q1,
                        flex_q3=None if vs_flex is None else vs_flex.q3,
                    )
                )
    return rows


def best_project_rows(rows: list[Row]) -> list[Row]:
    """For each (length, pattern), the fastest of the project's own kernels."""
    best = {}
    for row in rows:
        if row.path in PROJECT_PATHS:
            key = (row.length, row.pattern)
            if key not in best or row.ratio > best[key].ratio:
                best[key] = row
    return list(best.values())
