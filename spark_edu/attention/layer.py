"""Block-sparse multi-head self-attention as a drop-in layer for :mod:`spark_edu.transformer`.

The projections are those of :class:`~spark_edu.transformer.MultiHeadSelfAttention`, so a
dense and a sparse model built from the same config have the same parameters; only the
attention pattern differs (eq-sparse-gathered, via the gathered-block kernel).
"""

from __future__ import annotations

import torch

from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.gathered import gathered_block_attention, make_plan
from spark_edu.transformer import MultiHeadSelfAttention, TransformerConfig


class BlockSparseSelfAttention(MultiHeadSelfAttention):
    """``MHA`` restricted to the kept tiles of ``layout`` (the same layout for every head)."""

    def __init__(self, d_model: int, n_heads: int, layout: BlockLayout):
        super().__init__(d_model, n_heads)
        self.layout = layout
        self.plan = make_plan(layout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            raise ValueError("BlockSparseSelfAttention takes its pattern from its layout; pass mask=None")
        if x.shape[1] != self.layout.q_len:
            raise ValueError(f"layout is for T={self.layout.q_len}, got sequences of length {x.shape[1]}")
        q, k, v = self.split_heads(x)  # (B, H, T, D)
        y = gathered_block_attention(q, k, v, self.layout, self.plan)  # (B, H, T, D)
        return self.merge_heads(y)


def block_sparse_factory(layout: BlockLayout):
    """An ``attention_factory`` for :class:`~spark_edu.transformer.Transformer`."""

    def factory(config: TransformerConfig, layer: int) -> BlockSparseSelfAttention:
        return BlockSparseSelfAttention(config.d_model, config.n_heads, layout)

    return factory
