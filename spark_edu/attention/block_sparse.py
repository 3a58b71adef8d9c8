"""A readable block-sparse attention kernel: visit only the kept tiles, with an online softmax.

For query tile ``I`` and its kept key tiles ``J₁ … Jₙ`` (from a :class:`BlockLayout`),
keep per query row a running maximum ``m``, a running denominator ``ℓ`` and an output
accumulator ``a`` (Milakov & Gimelshein, 2018; Rabe & Staats, 2021; Dao et al., 2022):

    S   = Q_I K_Jᵀ / √D + log M_IJ                             (scores of one tile)
    m'  = max(m, rowmax S)
    ℓ'  = e^{m − m'} ℓ + rowsum e^{S − m'}                      (eq-sparse-online-softmax)
    a'  = e^{m − m'} a + e^{S − m'} V_J
    out = a / ℓ   (0 where ℓ = 0: a row with no kept key, as in the dense reference)

Tiles never visited cost nothing, and nothing of size ``T × S`` is ever stored: memory is
``O(T·D + T·b)``. To keep the Python loop short, step ``t`` handles the ``t``-th kept
tile of *every* query tile at once (a batched matmul over ``nq`` tiles), so the loop runs
``max_i nᵢ`` times rather than once per tile.

Dimension letters: B… leading (batch, heads), T queries, S keys, D head dim,
b block size, nq = ⌈T/b⌉ query tiles, n kept tiles per query tile.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.dense import _check_qkv


def _pad_to_blocks(x: torch.Tensor, n_blocks: int, block_size: int) -> torch.Tensor:
    """(..., L, D) -> (..., n_blocks, b, D), zero-padding L up to n_blocks · b."""
    pad = n_blocks * block_size - x.shape[-2]
    x = F.pad(x, (0, 0, 0, pad))  # (..., nb·b, D)
    return x.unflatten(-2, (n_blocks, block_size))  # (..., nb, b, D)


def kept_tile_table(layout: BlockLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """``(idx, valid)``, both (nq, n_max): the t-th kept key tile of each query tile.

    Query tiles with fewer than ``n_max`` kept tiles are padded with tile 0, ``valid=False``.
    """
    counts = layout.kept.sum(dim=1)  # (nq,)
    n_max = max(int(counts.max()), 1)
    # stable sort puts kept tiles first, in ascending key order
    order = torch.sort((~layout.kept).to(torch.int8), dim=1, stable=True).indices  # (nq, nk)
    idx = order[:, :n_max]  # (nq, n_max)
    valid = torch.arange(n_max)[None, :] < counts[:, None]  # (nq, n_max)
    return torch.where(valid, idx, 0), valid


def block_sparse_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: BlockLayout) -> torch.Tensor:
    """Attention over the kept tiles of ``layout`` only (eq-sparse-online-softmax).

    q: (..., T, D), k: (..., S, D), v: (..., S, Dv); returns (..., T, Dv). Lengths need not
    be multiples of the block size. Agrees with ``attention(q, k, v, layout.dense())[0]``.
    """
    _check_qkv(q, k, v, None)
    BlockLayout.check(layout, q, k)
    b, (nq, nk) = layout.block_size, layout.n_blocks
    T, S, device = q.shape[-2], k.shape[-2], q.device
    idx, valid = (t.to(device) for t in kept_tile_table(layout))  # (nq, n)
    # a tile needs no mask when it is full and holds no padded key (a partial last tile does)
    full = layout.full.to(device).gather(1, idx) & valid & (idx < S // b)  # (nq, n)

    Q = _pad_to_blocks(q, nq, b) / math.sqrt(q.shape[-1])  # (..., nq, b, D)
    K = _pad_to_blocks(k, nk, b)  # (..., nk, b, D)
    V = _pad_to_blocks(v, nk, b)  # (..., nk, b, Dv)
    q_pos = (torch.arange(nq, device=device)[:, None] * b + torch.arange(b, device=device))[:, :, None]  # (nq, b, 1)

    m = torch.full(Q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype, device=device)  # (..., nq, b, 1)
    ell = torch.zeros_like(m)  # (..., nq, b, 1)
    acc = torch.zeros(Q.shape[:-1] + (v.shape[-1],), dtype=v.dtype, device=device)  # (..., nq, b, Dv)
    for t in range(idx.shape[1]):
        cols = idx[:, t]  # (nq,) the t-th kept key tile of every query tile
        scores = Q @ K[..., cols, :, :].transpose(-2, -1)  # (..., nq, b, b)
        if not bool(full[:, t].all()):  # some tile at this step is partial or padding
            kv_pos = (cols[:, None] * b + torch.arange(b, device=device))[:, None, :]  # (nq, 1, b)
            in_range = (q_pos < T) & (kv_pos < S)  # (nq, b, b)
            allowed = layout.tile_mask(q_pos.clamp(max=T - 1), kv_pos.clamp(max=S - 1)) & in_range
            allowed = allowed & valid[:, t, None, None]  # (nq, b, b)
            scores = scores.masked_fill(~allowed, float("-inf"))  # (..., nq, b, b)
        m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))  # (..., nq, b, 1)
        m_safe = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)  # no key yet: avoid ∞ − ∞
        p = torch.exp(scores - m_safe)  # (..., nq, b, b); exp(−∞) = 0 for masked keys
        rescale = torch.exp(m - m_safe)  # (..., nq, b, 1); 0 on the first visit
        ell = rescale * ell + p.sum(dim=-1, keepdim=True)  # (..., nq, b, 1)
        acc = rescale * acc + p @ V[..., cols, :, :]  # (..., nq, b, Dv)
        m = m_new
    out = acc / torch.where(ell > 0, ell, torch.ones_like(ell))  # (..., nq, b, Dv); rows with ℓ = 0 stay 0
    return out.flatten(-3, -2)[..., :T, :]  # (..., T, Dv)
