"""Masks the field uses today, as predicates (attention-gym's gallery; Dong et al., 2024).

* **document** (jagged) masks: several documents packed into one sequence, each token
  seeing only its own document, ``M[i, j] = 1 ⇔ doc(i) = doc(j)`` (causal inside a document
  with :func:`~spark_edu.attention.masks.and_masks`);
* **prefix-LM**: a bidirectional prefix of length ``p`` and a causal rest,
  ``M[i, j] = 1 ⇔ j < p ∨ j ≤ i`` (Raffel et al., 2020; Dong et al., 2019);
* **BigBird**: ``g`` global blocks, a window of ``w`` blocks either side and ``r`` random
  key blocks per query block, all at BigBird's own block size (Zaheer et al., 2020, ITC).

Each returns a predicate with the ``(b, h, q_idx, kv_idx)`` signature of
:mod:`spark_edu.attention.masks`, so the dense oracle, the block layouts and FlexAttention
all see the same set.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from spark_edu.attention.masks import MaskPredicate
from spark_edu.validation import check_positive_int


def document(lengths: Sequence[int]) -> MaskPredicate:
    """``M[i, j] = 1 ⇔ doc(i) = doc(j)`` for documents of the given ``lengths``, packed in order."""
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise ValueError(f"lengths must be a non-empty sequence of positive ints, got {lengths!r}")
    for n in lengths:
        check_positive_int("lengths[i]", n)
    doc_id = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(list(lengths)))  # (L,)

    def document_mask(b, h, q_idx, kv_idx):
        ids = doc_id.to(q_idx.device)
        return ids[q_idx] == ids[kv_idx]

    document_mask.__name__ = f"document_{len(lengths)}"
    return document_mask


def random_document_lengths(total: int, n_documents: int, seed: int = 0) -> list[int]:
    """``n_documents`` positive lengths summing to ``total``, cut at uniformly random points."""
    check_positive_int("total", total)
    check_positive_int("n_documents", n_documents)
    if n_documents > total:
        raise ValueError(f"n_documents must be at most total={total}, got {n_documents}")
    generator = torch.Generator().manual_seed(seed)
    cuts = (torch.randperm(total - 1, generator=generator)[: n_documents - 1] + 1).sort().values
    edges = [0, *cuts.tolist(), total]
    return [hi - lo for lo, hi in zip(edges[:-1], edges[1:])]


def prefix_lm(prefix: int) -> MaskPredicate:
    """``M[i, j] = 1 ⇔ j < p ∨ j ≤ i``: every token sees the prefix; after it, only the past."""
    check_positive_int("prefix", prefix, minimum=0)

    def prefix_lm_mask(b, h, q_idx, kv_idx):
        return (kv_idx < prefix) | (kv_idx <= q_idx)

    prefix_lm_mask.__name__ = f"prefix_lm_{prefix}"
    return prefix_lm_mask


def bigbird_layout(n_blocks: int, n_global: int = 1, window: int = 1, n_random: int = 2, seed: int = 0) -> torch.Tensor:
    """BigBird's ``(n_blocks, n_blocks)`` block layout: global rows/columns, a band, random blocks.

    Query block ``I`` keeps key blocks ``|I − J| ≤ window``, the first ``n_global`` blocks
    (which also see everything), and ``n_random`` further blocks drawn at random (seeded).
    """
    check_positive_int("n_blocks", n_blocks)
    check_positive_int("n_global", n_global, minimum=0)
    check_positive_int("window", window, minimum=0)
    check_positive_int("n_random", n_random, minimum=0)
    rows = torch.arange(n_blocks)[:, None]
    cols = torch.arange(n_blocks)[None, :]
    layout = ((rows - cols).abs() <= window) | (rows < n_global) | (cols < n_global)  # (nb, nb)
    generator = torch.Generator().manual_seed(seed)
    for i in range(n_blocks):
        free = (~layout[i]).nonzero().flatten()
        pick = free[torch.randperm(free.numel(), generator=generator)[:n_random]]
        layout[i, pick] = True
    return layout


def bigbird(
    length: int, block_size: int = 64, n_global: int = 1, window: int = 1, n_random: int = 2, seed: int = 0
) -> MaskPredicate:
    """BigBird-ITC (Zaheer et al., 2020) at its own ``block_size``: see :func:`bigbird_layout`."""
    check_positive_int("length", length)
    check_positive_int("block_size", block_size)
    layout = bigbird_layout(-(-length // block_size), n_global, window, n_random, seed)

    def bigbird_mask(b, h, q_idx, kv_idx):
        return layout.to(q_idx.device)[q_idx // block_size, kv_idx // block_size]

    bigbird_mask.__name__ = f"bigbird_{block_size}"
    return bigbird_mask
