"""Attention masks as small named predicates ``(b, h, q_idx, kv_idx) -> bool``.

A predicate states a set: ``M[i, j] = 1`` means query ``i`` may attend to key ``j``.
The same predicate builds the dense boolean mask here, and the block layouts and
FlexAttention ``BlockMask`` of the sparse-attention chapter, so every path sees one truth.
The shape follows PyTorch's ``flex_attention`` ``mask_mod`` convention.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spark_edu.validation import DTypeError, check_bool, check_positive_int, check_range

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


# --- Pattern factories (the sparse-attention chapter) --------------------------------
# Each factory returns a predicate whose ``__name__`` names the pattern and its parameter.
# Predicates that need a random table close over a tensor and index it, which works for
# the dense mask, the block layout and FlexAttention alike (as in attention-gym).


def additive_mask(allowed: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """``log M``: 0 where ``allowed`` and −∞ where not, the form SDPA adds to the scores.

    Built once and passed as a float ``attn_mask``, it spares SDPA converting a boolean
    mask on every call.
    """
    check_bool("allowed", allowed)
    if not dtype.is_floating_point:
        raise DTypeError(f"dtype must be a floating-point dtype (the mask holds −∞), got {dtype}")
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))


def sliding_window(window: int) -> MaskPredicate:
    """``M[i, j] = 1 ⇔ |i − j| ≤ w``: a local band of half-width ``w`` (Beltagy et al., 2020)."""
    check_positive_int("window", window)

    def local(b, h, q_idx, kv_idx):
        return (q_idx - kv_idx).abs() <= window

    local.__name__ = f"sliding_window_{window}"
    return local


def strided(stride: int) -> MaskPredicate:
    """``M[i, j] = 1 ⇔ (i − j) mod l = 0``: every ``l``-th key (Child et al., 2019).

    Child et al. combine it with a local window of width ``l``:
    ``or_masks(sliding_window(l), strided(l))``.
    """
    check_positive_int("stride", stride)

    def stride_mask(b, h, q_idx, kv_idx):
        return (q_idx - kv_idx) % stride == 0

    stride_mask.__name__ = f"strided_{stride}"
    return stride_mask


def global_tokens(n_global: int) -> MaskPredicate:
    """``M[i, j] = 1 ⇔ i < g ∨ j < g``: the first ``g`` tokens see and are seen by all."""
    check_positive_int("n_global", n_global)

    def global_(b, h, q_idx, kv_idx):
        return (q_idx < n_global) | (kv_idx < n_global)

    global_.__name__ = f"global_{n_global}"
    return global_


def global_window(n_global: int, window: int) -> MaskPredicate:
    """Longformer / BigBird style: ``g`` global tokens plus a band of half-width ``w``."""
    return or_masks(global_tokens(n_global), sliding_window(window))


def _check_sparsity(sparsity: float) -> None:
    check_range("sparsity", sparsity, 0.0, 1.0, high_inclusive=False)


def random_elements(length: int, sparsity: float, seed: int = 0) -> MaskPredicate:
    """``M[i, j] = 1`` with probability ``1 − s``, independently per element (seeded).

    The element sparsity is ``s`` up to sampling noise (±0.002 at L = 1024). The mask
    covers ``length × length`` positions.
    """
    check_positive_int("length", length)
    _check_sparsity(sparsity)
    generator = torch.Generator().manual_seed(seed)
    table = torch.rand(length, length, generator=generator) >= sparsity  # (L, L)

    def random_mask(b, h, q_idx, kv_idx):
        return table.to(q_idx.device)[q_idx, kv_idx]

    random_mask.__name__ = f"random_{sparsity:g}"
    return random_mask


def random_block_layout(n_blocks: int, sparsity: float, seed: int = 0, band: int | None = 0) -> torch.Tensor:
    """A ``(n_blocks, n_blocks)`` bool layout with ``round((1 − s) n²)`` kept tiles.

    Tiles with ``|I − J| ≤ band`` are kept first (``band=0``: the diagonal, so every query
    sees at least its own tile; ``band=1``: BigBird's sliding blocks), the rest are drawn at
    random until the count is reached; ``band=None`` draws every tile at random. Raises
    ``ValueError`` if the band alone needs more tiles than the sparsity allows.
    """
    check_positive_int("n_blocks", n_blocks)
    _check_sparsity(sparsity)
    generator = torch.Generator().manual_seed(seed)
    n_tiles = n_blocks * n_blocks
    n_keep = max(1, round((1.0 - sparsity) * n_tiles))
    order = torch.randperm(n_tiles, generator=generator)  # (n²,) random tile order
    if band is not None:
        check_positive_int("band", band, minimum=0)
        rows, cols = order // n_blocks, order % n_blocks
        in_band = (rows - cols).abs() <= band
        if int(in_band.sum()) > n_keep:
            raise ValueError(f"band={band} keeps {int(in_band.sum())} tiles but sparsity={sparsity} allows {n_keep}")
        order = torch.cat([order[in_band], order[~in_band]])  # band tiles first
    layout = torch.zeros(n_tiles, dtype=torch.bool)
    layout[order[:n_keep]] = True
    return layout.view(n_blocks, n_blocks)


def block_sparse(layout: torch.Tensor, block_size: int) -> MaskPredicate:
    """``M[i, j] = Λ[⌊i / b⌋, ⌊j / b⌋]``: tiles of size ``b`` kept where the layout says so.

    ``layout`` may be random (:func:`random_block_layout`) or fixed (any bool matrix).
    """
    check_positive_int("block_size", block_size)
    if not torch.is_tensor(layout) or layout.dtype != torch.bool or layout.dim() != 2:
        raise ValueError(f"layout must be a 2-d bool tensor, got {getattr(layout, 'shape', layout)!r}")

    def block_mask(b, h, q_idx, kv_idx):
        return layout.to(q_idx.device)[q_idx // block_size, kv_idx // block_size]

    block_mask.__name__ = f"block_sparse_{block_size}"
    return block_mask


# --- How sparse is a mask? ------------------------------------------------------------


def element_sparsity(mask: torch.Tensor) -> float:
    """The fraction of (query, key) pairs that are masked out."""
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got dtype {mask.dtype}")
    return 1.0 - mask.float().mean().item()


def tile_counts(mask: torch.Tensor, block_size: int) -> torch.Tensor:
    """Kept elements per ``block_size × block_size`` tile: a ``(⌈T/b⌉, ⌈S/b⌉)`` int tensor.

    The last row/column of tiles is partial when ``b`` does not divide the length.
    """
    if mask.dtype != torch.bool or mask.dim() != 2:
        raise ValueError(f"mask must be a 2-d bool tensor, got {mask.dtype} {tuple(mask.shape)}")
    check_positive_int("block_size", block_size)
    t_len, s_len = mask.shape
    nq, nk = -(-t_len // block_size), -(-s_len // block_size)
    padded = torch.zeros(nq * block_size, nk * block_size, dtype=torch.int32)  # (nq·b, nk·b)
    padded[:t_len, :s_len] = mask
    return padded.view(nq, block_size, nk, block_size).sum(dim=(1, 3))  # (nq, nk)


def block_sparsity(mask: torch.Tensor, block_size: int) -> float:
    """The fraction of tiles with no kept element: the only sparsity a kernel can skip."""
    return 1.0 - (tile_counts(mask, block_size) > 0).float().mean().item()


def speedup_bound(sparsity: float) -> float:
    """``1 / (1 − s)``: the best speed-up from skipping a fraction ``s`` of the work."""
    check_range("sparsity", sparsity, 0.0, 1.0, high_inclusive=False)
    return 1.0 / (1.0 - sparsity)


def window_for_sparsity(length: int, sparsity: float) -> int:
    """The half-width ``w`` whose band ``|i − j| ≤ w`` has element sparsity closest to ``s``.

    The band keeps ``(2w + 1) L − w (w + 1)`` of the ``L²`` pairs.
    """
    check_positive_int("length", length)
    _check_sparsity(sparsity)
    kept = lambda w: (2 * w + 1) * length - w * (w + 1)  # noqa: E731
    target = (1.0 - sparsity) * length * length
    return min(range(1, length), key=lambda w: abs(kept(w) - target)) if length > 1 else 1
