"""Attention masks as small named predicates ``(b, h, q_idx, kv_idx) -> bool``.

A predicate states a set: ``M[i, j] = 1`` means query ``i`` may attend to key ``j``.
The same predicate builds the dense boolean mask here, and the block layouts and
FlexAttention ``BlockMask`` of the sparse-attention chapter, so every path sees one truth.
The shape follows PyTorch's ``flex_attention`` ``mask_mod`` convention.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spark_edu.validation import check_positive_int

MaskPredicate = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def full(b, h, q_idx, kv_idx):
    """``M[i, j] = 1`` for every pair: dense attention."""
    return q_idx >= 0  # broadcasts to True everywhere; kept tensor-valued for vmap/flex


def causal(b, h, q_idx, kv_idx):
    """``M[i, j] = 1 ⇔ j ≤ i``: each position sees itself and the past."""
    return q_idx >= kv_idx


def and_masks(*predicates: MaskPredicate) -> MaskPredicate:
    """The intersection of the predicates' sets (``M = M₁ ∧ M₂ ∧ …``)."""
    if not predicates:
        raise ValueError("and_masks needs at least one predicate")

    def combined(b, h, q_idx, kv_idx):
        result = predicates[0](b, h, q_idx, kv_idx)
        for predicate in predicates[1:]:
            result = result & predicate(b, h, q_idx, kv_idx)
        return result

    combined.__name__ = "_and_".join(p.__name__ for p in predicates)
    return combined


def or_masks(*predicates: MaskPredicate) -> MaskPredicate:
    """The union of the predicates' sets (``M = M₁ ∨ M₂ ∨ …``)."""
    if not predicates:
        raise ValueError("or_masks needs at least one predicate")

    def combined(b, h, q_idx, kv_idx):
        result = predicates[0](b, h, q_idx, kv_idx)
        for predicate in predicates[1:]:
            result = result | predicate(b, h, q_idx, kv_idx)
        return result

    combined.__name__ = "_or_".join(p.__name__ for p in predicates)
    return combined


def dense_mask(predicate: MaskPredicate, q_len: int, kv_len: int | None = None, device=None) -> torch.Tensor:
    """Evaluate ``predicate`` on every (query, key) pair: a ``(q_len, kv_len)`` bool tensor."""
    kv_len = q_len if kv_len is None else kv_len
    check_positive_int("q_len", q_len)
    check_positive_int("kv_len", kv_len)
    q_idx = torch.arange(q_len, device=device)[:, None]  # (T, 1)
    kv_idx = torch.arange(kv_len, device=device)[None, :]  # (1, S)
    zero = torch.zeros((), dtype=torch.long, device=device)
    mask = predicate(zero, zero, q_idx, kv_idx)
    return mask.expand(q_len, kv_len).to(torch.bool).clone()
