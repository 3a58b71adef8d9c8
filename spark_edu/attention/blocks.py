"""The block layout of a mask: which tiles a kernel must visit, and which need no mask.

Cut the ``T × S`` mask ``M`` into tiles of ``b × b``. A tile is

* **empty** when no element is kept: a kernel skips it entirely;
* **full** when every element is kept: a kernel computes it without a mask;
* **partial** otherwise: computed, then masked element by element.

Only empty tiles save work, so the speed-up a kernel can reach is bounded by the block
sparsity ``s_b`` (eq-sparse-bound), not by the element sparsity:

    speed-up ≤ 1 / (1 − s_b)                                   (eq-sparse-bound)

This is the same bookkeeping FlexAttention's ``BlockMask`` does (``kv_num_blocks`` /
``kv_indices`` for partial tiles, ``full_kv_*`` for full ones; Dong et al., 2024), and what
block-sparse kernels since Child et al. (2019) and Gray et al. exploit.
Dimension letters: T queries, S keys, b block size, nq = ⌈T/b⌉, nk = ⌈S/b⌉ tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.attention.masks import MaskPredicate, dense_mask, tile_counts
from spark_edu.validation import DTypeError, check_bool, check_positive_int


@dataclass(frozen=True)
class BlockLayout:
    """Tiles of one mask at one block size; built by :meth:`from_predicate` / :meth:`from_mask`.

    ``kept[i, j]``: tile (i, j) has a kept element; ``full[i, j]``: all its elements are kept.
    ``predicate`` (if known) rebuilds any tile's element mask without storing ``M``.
    """

    block_size: int
    q_len: int
    kv_len: int
    kept: torch.Tensor  # (nq, nk) bool
    full: torch.Tensor  # (nq, nk) bool, full ⊆ kept
    predicate: MaskPredicate | None = None
    mask: torch.Tensor | None = None  # (T, S) bool, kept when no predicate is given

    @classmethod
    def from_mask(cls, mask: torch.Tensor, block_size: int, predicate: MaskPredicate | None = None) -> BlockLayout:
        """Count kept elements per tile; a partial edge tile is full when all its real elements are."""
        check_positive_int("block_size", block_size)
        check_bool("mask", mask)
        counts = tile_counts(mask, block_size)  # (nq, nk)
        t_len, s_len = mask.shape
        rows = torch.full((counts.shape[0],), block_size)
        cols = torch.full((counts.shape[1],), block_size)
        rows[-1] = t_len - block_size * (counts.shape[0] - 1)  # real size of the last tile row
        cols[-1] = s_len - block_size * (counts.shape[1] - 1)
        full = counts == rows[:, None] * cols[None, :]  # (nq, nk)
        return cls(block_size, t_len, s_len, counts > 0, full, predicate, None if predicate else mask.cpu())

    @classmethod
    def from_predicate(
        cls, predicate: MaskPredicate, q_len: int, kv_len: int | None = None, block_size: int = 128
    ) -> BlockLayout:
        """Evaluate ``predicate`` once on every pair and reduce it to tiles."""
        kv_len = q_len if kv_len is None else kv_len
        return cls.from_mask(dense_mask(predicate, q_len, kv_len), block_size, predicate)

    @property
    def n_blocks(self) -> tuple[int, int]:
        return tuple(self.kept.shape)

    @property
    def block_sparsity(self) -> float:
        """Fraction of empty tiles (eq-sparse-bound's ``s_b``)."""
        return 1.0 - self.kept.float().mean().item()

    @property
    def bound(self) -> float:
        """``1 / (1 − s_b)``: the speed-up if empty tiles cost nothing and the rest cost as in dense."""
        return 1.0 / max(1.0 - self.block_sparsity, 1e-12)

    def kept_blocks(self, i: int) -> torch.Tensor:
        """Indices of the key tiles that query tile ``i`` must visit (ascending)."""
        return self.kept[i].nonzero().flatten()

    def tile_mask(self, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        """The element mask at query positions ``q_idx`` (..., r, 1) and keys ``kv_idx`` (..., 1, c)."""
        if self.predicate is not None:
            zero = torch.zeros((), dtype=torch.long, device=q_idx.device)
            return self.predicate(zero, zero, q_idx, kv_idx).to(torch.bool)
        return self.mask.to(q_idx.device)[q_idx, kv_idx]

    def dense(self) -> torch.Tensor:
        """The full ``(T, S)`` element mask (the oracle's view of the same pattern)."""
        if self.mask is not None:
            return self.mask
        return dense_mask(self.predicate, self.q_len, self.kv_len)

    @staticmethod
    def check(layout, q: torch.Tensor, k: torch.Tensor) -> None:
        """Raise ``TypeError`` unless ``layout`` is a :class:`BlockLayout`, ``ValueError`` unless q, k fit it."""
        if not isinstance(layout, BlockLayout):
            raise DTypeError(
                f"layout must be a BlockLayout (BlockLayout.from_predicate or from_mask), got {type(layout).__name__}"
            )
        layout.check_matches(q, k)

    def check_matches(self, q: torch.Tensor, k: torch.Tensor) -> None:
        """Raise ``ValueError`` unless q (..., T, D) and k (..., S, D) fit this layout."""
        if q.shape[-2] != self.q_len or k.shape[-2] != self.kv_len:
            raise ValueError(
                f"layout was built for T={self.q_len}, S={self.kv_len}; got q with T={q.shape[-2]} "
                f"and k with S={k.shape[-2]}"
            )
