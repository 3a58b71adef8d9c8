"""Exact resolvent vs truncated path series: measured truncation error against the bound of
eq-fk-bound, and the cost of each attention path against sequence length, in paired rounds.

:func:`measure_cost` times every path back to back in each round and reports its cost as the
median (and IQR) of per-round ratios to standard attention; :func:`save_cost` writes one run
to ``spark_edu/data/fk_attention/cost.json`` (``python -m spark_edu run fk_attention
--cost-only``), :func:`load_cost` reads it back, :func:`format_cost` prints either.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

from spark_edu import results
from spark_edu.attention import attention
from spark_edu.device import describe_environment, threads
from spark_edu.display import Table
from spark_edu.fk_attention import fk_attention, path_series, resolvent, series_error_bound
from spark_edu.measure import paired_ratio, paired_times
from spark_edu.validation import check_positive_int

REFERENCE = "standard (reference)"  # the baseline of every cost ratio
COST_FILE = "cost.json"
_NOT_PATHS = ("n", "threads", "rounds", "ratio", "q1", "q3")


def error_vs_hops(betas=(0.3, 0.6, 0.9), max_hops: int = 30, length: int = 64, dim: int = 16, seed: int = 0) -> dict:
    """Measured ``max|exact − series|`` and the bound of eq-fk-bound for K = 0 … max_hops (float64)."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(length, dim, generator=g, dtype=torch.float64) for _ in range(3))
    _, A = fk_attention(q, k, v, 0.0, normalize=False)  # (T, T) the softmax matrix
    out = {}
    for beta in betas:
        exact = resolvent(A, v, beta)
        out[beta] = {
            "hops": list(range(max_hops + 1)),
            "error": [float((exact - path_series(A, v, beta, K)).abs().max()) for K in range(max_hops + 1)],
            "bound": [series_error_bound(A, v, beta, K) for K in range(max_hops + 1)],
        }
    return out


def measure_cost(
    lengths=(64, 128, 256, 512, 1024),
    heads: int = 4,
    dim: int = 32,
    hops: int = 4,
    beta: float = 0.3,
    rounds: int = 9,
    warmup: int = 1,
    n_threads: int = 1,
) -> list[dict]:
    """Each attention path's time and its cost in standard attentions, per sequence length.

    Batch 1, ``heads`` heads of width ``dim``, float32; every FK path includes the softmax.
    For each length every path runs back to back in each of ``rounds`` rounds (after
    ``warmup`` untimed ones), the order alternating (:func:`spark_edu.measure.paired_times`),
    on ``n_threads`` intra-op threads (:func:`spark_edu.device.threads`). A row holds ``n``,
    ``threads``, ``rounds``, each path's median ms, and under ``ratio``, ``q1`` and ``q3`` the
    median and interquartile range over rounds of time(path) / time(standard reference) in the
    same round (:func:`spark_edu.measure.paired_ratio`): how many reference attentions one call
    costs. A machine that slows down between rounds slows both sides of a ratio alike.

    One thread by default: with more, torch 2.13's batched LU (under ``torch.linalg.solve``)
    runs MKL's ``getrf`` concurrently, which is not thread-safe, and for T ≥ ~200 it raises
    or silently returns wrong values (pytorch/pytorch#142815); every exact path is checked
    against its own linear system before it is timed (``ValueError`` if it is wrong).
    """
    check_positive_int("rounds", rounds, minimum=7)  # fewer rounds leave no meaningful IQR
    check_positive_int("warmup", warmup, minimum=0)
    for n in lengths:
        check_positive_int("length", n)
    rows = []
    with threads(n_threads):
        for n in lengths:
            g = torch.Generator().manual_seed(n)
            q, k, v = (torch.randn(1, heads, n, dim, generator=g) for _ in range(3))  # (B, H, T, D)
            paths = {
                "standard (fused)": lambda: F.scaled_dot_product_attention(q, k, v),
                REFERENCE: lambda: attention(q, k, v),
                f"FK series K={hops}": lambda: fk_attention(q, k, v, beta, n_terms=hops),
                "FK exact (solve)": lambda: fk_attention(q, k, v, beta),
                "FK exact causal (triangular)": lambda: fk_attention(q, k, v, beta, causal=True),
            }
            for name in ("FK exact (solve)", "FK exact causal (triangular)"):
                _check_exact(name, paths[name], v, beta)
            times = paired_times(paths, rounds=rounds, warmup=warmup)  # every path in every round
            # paired_ratio(times, a, b) is the median of times[a][r] / times[b][r]: a path's cost in references
            cost = {name: paired_ratio(times, name, REFERENCE) for name in paths}
            rows.append(
                {"n": n, "threads": torch.get_num_threads(), "rounds": rounds}
                | {name: 1e3 * statistics.median(ts) for name, ts in times.items()}  # median ms
                | {
                    "ratio": {name: r.median for name, r in cost.items()},
                    "q1": {name: r.q1 for name, r in cost.items()},
                    "q3": {name: r.q3 for name, r in cost.items()},
                }
            )
    return rows


def _check_exact(name: str, path, v: torch.Tensor, beta: float, tol: float = 1e-4) -> None:
    """``ValueError`` unless ``path()`` (normalised FK) solves ``(I − βA) Y = (1 − β) V`` to ``tol·max|V|``."""
    try:
        out, A = path()  # (B, H, T, D), (B, H, T, T)
        residual = float((out - beta * (A @ out) - (1 - beta) * v).abs().max())
    except RuntimeError as error:  # torch's pivot check
        residual, detail = float("inf"), f" ({error})"
    else:
        detail = ""
    if not residual <= tol * float(v.abs().max()):
        raise ValueError(
            f"{name} at T={v.shape[-2]} on {torch.get_num_threads()} threads does not solve its system "
            f"(max residual {residual:.1e}){detail}: torch's batched LU is not thread-safe with more than "
            f"one thread (pytorch/pytorch#142815); time it with n_threads=1"
        )


def cost_paths(row: dict) -> list[str]:
    """The timed paths of a :func:`measure_cost` row (the keys that hold milliseconds)."""
    return [k for k in row if k not in _NOT_PATHS]


def format_cost(rows: list[dict]) -> Table:
    """A book table, one row per (length, path): median ms per call, then the path's cost ratio
    (median [IQR] of per-round ratios to the reference)."""
    names = cost_paths(rows[0])
    table_rows = [
        [r["n"], name, r[name], (r["ratio"][name], r["q1"][name], r["q3"][name])] for r in rows for name in names
    ]
    caption = (
        f"{rows[0]['rounds']} paired rounds per length (order alternating), {rows[0]['threads']} thread(s); "
        f"cost in {REFERENCE} attentions, median [IQR] of per-round ratios"
    )
    columns = ["n", "path", "median ms", "cost [IQR]"]
    return Table(table_rows, columns, {"median ms": ".2f", "cost [IQR]": ".2f"}, caption)


def save_cost(rows: list[dict], path: Path | str) -> Path:
    """Write a :func:`measure_cost` run, with where and when it ran, to the JSON file at ``path``."""
    record = {
        "date": datetime.date.today().isoformat(),
        "environment": describe_environment() | {"threads": str(rows[0]["threads"]), "cpu_count": str(os.cpu_count())},
        "load_average": [round(x, 2) for x in os.getloadavg()],  # at the end of the run
        "rows": rows,
    }
    return results.write_atomic(path, json.dumps(record, indent=1))


def load_cost(path: Path | str | None = None) -> dict:
    """The saved cost run (``cost.json`` in the chapter's data folder by default), as :func:`save_cost` wrote it."""
    if path is None:
        return results.load_json("fk_attention", COST_FILE)
    return json.loads(Path(path).read_text())
