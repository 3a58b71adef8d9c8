"""Peak memory of one attention forward pass against block sparsity: the masked dense reference
(which materialises the B·H·L² scores), fused dense SDPA, and the block-sparse kernels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spark_edu.attention import masks
from spark_edu.attention.block_sparse import block_sparse_attention
from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.dense import attention
from spark_edu.attention.gathered import gathered_block_attention, make_plan
from spark_edu.measure import peak_memory_bytes


@dataclass(frozen=True)
class MemoryPoint:
    length: int
    block_sparsity: float
    reference_mb: float  # masked dense reference: materialises the B·H·L² scores
    sdpa_mb: float  # fused dense SDPA (streams; no L × L matrix)
    gathered_mb: float
    readable_mb: float


def memory_sweep(
    length: int = 2048,
    sparsities=(0.5, 0.7, 0.8, 0.9),
    block_size: int = 128,
    heads: int = 4,
    dim: int = 64,
    seed: int = 0,
) -> list[MemoryPoint]:
    """Peak memory (MB) of a forward pass against block sparsity, for dense and sparse paths."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, heads, length, dim, generator=g) for _ in range(3))  # (B, H, L, D)
    n_blocks = -(-length // block_size)
    mb = lambda fn: peak_memory_bytes(fn) / 2**20  # noqa: E731
    sdpa = mb(lambda: F.scaled_dot_product_attention(q, k, v))
    points = []
    for s in sparsities:
        predicate = masks.block_sparse(masks.random_block_layout(n_blocks, s, seed), block_size)
        layout = BlockLayout.from_predicate(predicate, length, length, block_size)
        mask, plan = layout.dense(), make_plan(layout)
        points.append(
            MemoryPoint(
                length,
                layout.block_sparsity,
                mb(lambda: attention(q, k, v, mask)),
                sdpa,
                mb(lambda: gathered_block_attention(q, k, v, layout, plan)),
                mb(lambda: block_sparse_attention(q, k, v, layout)),
            )
        )
    return points
