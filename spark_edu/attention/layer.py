"""Block-sparse multi-head self-attention as a drop-in layer for :mod:`spark_edu.transformer`.

The projections are those of :class:`~spark_edu.attention.multihead.MultiHeadSelfAttention`,
so a dense and a sparse model built from the same config have the same parameters; only the
attention pattern differs (eq-sparse-gathered, via the gathered-block kernel).
"""

from __future__ import annotations

import dataclasses

import torch

from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.gathered import gathered_block_attention, make_plan
from spark_edu.attention.multihead import MultiHeadSelfAttention


def _move(value, fn):
    """Apply a module's tensor conversion ``fn`` to every tensor field of a frozen dataclass."""
    changes = {
        f.name: fn(getattr(value, f.name))
        for f in dataclasses.fields(value)
        if isinstance(getattr(value, f.name), torch.Tensor)
    }
    return dataclasses.replace(value, **changes)


class BlockSparseSelfAttention(MultiHeadSelfAttention):
    """``MHA`` restricted to the kept tiles of ``layout`` (the same layout for every head).

    The layout and its per-tile plan are plain tensors, not parameters; :meth:`_apply` moves
    them with the module, so ``.to(device)`` carries everything the layer holds.
    """

    def __init__(self, d_model: int, n_heads: int, layout: BlockLayout, rotary: bool = False):
        super().__init__(d_model, n_heads, rotary=rotary)
        self.layout = layout
        self.plan = make_plan(layout)

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        self.layout = _move(self.layout, fn)
        self.plan = [_move(tile, fn) for tile in self.plan]
        return self

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            raise ValueError("BlockSparseSelfAttention takes its pattern from its layout; pass mask=None")
        self.check_input(x)
        if x.shape[1] != self.layout.q_len:
            raise ValueError(f"x must have shape (B, {self.layout.q_len}, C), got {tuple(x.shape)}")
        q, k, v = self.split_heads(x)  # (B, H, T, D)
        y = gathered_block_attention(q, k, v, self.layout, self.plan)  # (B, H, T, D)
        return self.merge_heads(y)


def block_sparse_factory(layout: BlockLayout):
    """An ``attention_factory`` for :class:`~spark_edu.transformer.Transformer` (any config
    with ``d_model`` and ``n_heads``; rotary positions when the config asks for them)."""

    def factory(config, layer: int) -> BlockSparseSelfAttention:
        return BlockSparseSelfAttention(config.d_model, config.n_heads, layout, getattr(config, "rotary", False))

    return factory
