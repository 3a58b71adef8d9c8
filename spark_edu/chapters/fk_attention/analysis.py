"""Exact resolvent vs truncated path series: measured truncation error against the bound of
eq-fk-bound, and the time of each attention path against sequence length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spark_edu.attention import attention
from spark_edu.fk_attention import fk_attention, path_series, resolvent, series_error_bound
from spark_edu.measure import time_it
from spark_edu.validation import check_positive_int


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
    lengths=(64, 128, 256, 512, 1024), heads: int = 4, dim: int = 32, hops: int = 4, beta: float = 0.3, repeats: int = 5
) -> list[dict]:
    """Fastest-of-``repeats`` ms for standard attention and for FK attention (series, exact, causal exact).

    Batch 1, ``heads`` heads of width ``dim``, float32; every FK path includes the softmax.
    The minimum is reported because the machine is shared: it is the least disturbed run.
    """
    rows = []
    for n in lengths:
        check_positive_int("length", n)
        g = torch.Generator().manual_seed(n)
        q, k, v = (torch.randn(1, heads, n, dim, generator=g) for _ in range(3))  # (B, H, T, D)
        paths = {
            "standard (fused)": lambda: F.scaled_dot_product_attention(q, k, v),
            "standard (reference)": lambda: attention(q, k, v),
            f"FK series K={hops}": lambda: fk_attention(q, k, v, beta, n_terms=hops),
            "FK exact (solve)": lambda: fk_attention(q, k, v, beta),
            "FK exact causal (triangular)": lambda: fk_attention(q, k, v, beta, causal=True),
        }
        row = {"n": n}
        for name, fn in paths.items():
            row[name] = 1e3 * time_it(fn, repeats=repeats, warmup=1).min_s
        rows.append(row)
    return rows
