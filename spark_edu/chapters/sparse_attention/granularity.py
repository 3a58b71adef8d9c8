"""What tile granularity costs: block sparsity ``s_b`` against tile size for the gallery's masks.

A kernel skips only empty tiles, so its speed-up is bounded by ``1 / (1 − s_b)``
(eq-sparse-bound), and ``s_b`` falls as tiles grow: a tile is empty only when none of its
``b²`` pairs is kept. Patterns built from tiles (block-random, BigBird) keep their sparsity
down to their own tile size; element-level patterns (random) lose it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from spark_edu.attention import gallery, masks
from spark_edu.validation import check_positive_int

BLOCK_SIZES = (16, 32, 64, 128, 256)


@dataclass(frozen=True)
class GranularityRow:
    pattern: str
    block_size: int
    element_sparsity: float
    block_sparsity: float

    @property
    def bound(self) -> float:
        """``1 / (1 − s_b)``: the best speed-up over dense at this tile size."""
        return 1.0 / max(1.0 - self.block_sparsity, 1e-12)


def gallery_patterns(length: int = 4096, seed: int = 0) -> dict[str, masks.MaskPredicate]:
    """The chapter's patterns and the modern gallery at length ``length``, by display name."""
    check_positive_int("length", length)
    n_tiles = -(-length // 128)
    return {
        "causal": masks.causal,
        "local (s = 0.9)": masks.sliding_window(masks.window_for_sparsity(length, 0.9)),
        "document (8, causal)": masks.and_masks(
            masks.causal, gallery.document(gallery.random_document_lengths(length, 8, seed))
        ),
        "prefix-LM (p = L/4)": gallery.prefix_lm(length // 4),
        "BigBird (64-blocks)": gallery.bigbird(length, block_size=64, seed=seed),
        "block-random (128-tiles, s = 0.7)": masks.block_sparse(
            masks.random_block_layout(n_tiles, 0.7, seed=seed), 128
        ),
        "random elements (s = 0.8)": masks.random_elements(length, 0.8, seed=seed),
    }


def tile_granularity(length: int = 4096, block_sizes=BLOCK_SIZES, seed: int = 0) -> list[GranularityRow]:
    """One row per (pattern, tile size): element and block sparsity of the ``length²`` mask."""
    rows = []
    for name, predicate in gallery_patterns(length, seed).items():
        mask = masks.dense_mask(predicate, length)  # (L, L)
        element = masks.element_sparsity(mask)
        for b in block_sizes:
            rows.append(GranularityRow(name, b, element, masks.block_sparsity(mask, b)))
    return rows
