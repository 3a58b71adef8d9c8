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
``O(T·D + T·b)``. To keep the Python loop short, step ``t`` handles the ``t``-th kept tile
of every query tile that has one, at once (a batched matmul). Query tiles are sorted by
their number of kept tiles ``nᵢ``, most first, so at step ``t`` the tiles still running
(``nᵢ > t``) are a prefix of that order: the loop runs ``max_i nᵢ`` times and computes
exactly ``Σ nᵢ`` tile products, none padded. A tile that has visited all its kept tiles
is finished and set aside.

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
    """``(idx, counts)``: row ``i`` of idx (nq, n_max) lists query tile ``i``'s kept key tiles.

    Tiles are listed in ascending key order; entries past ``counts[i]`` are padding (tile 0).
    """
    counts = layout.kept.sum(dim=1)  # (nq,)
    n_max = max(int(counts.max()), 1)
    # stable sort puts kept tiles first, in ascending key order
    order = torch.sort((~layout.kept).to(torch.int8), dim=1, stable=True).indices  # (nq, nk)
    valid = torch.arange(n_max)[None, :] < counts[:, None]  # (nq, n_max)
    return torch.where(valid, order[:, :n_max], 0), counts


def block_sparse_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: BlockLayout) -> torch.Tensor:
    """Attention over the kept tiles of ``layout`` only (eq-sparse-online-softmax).

    q: (..., T, D), k: (..., S, D), v: (..., S, Dv); returns (..., T, Dv). Lengths need not
    be multiples of the block size. Agrees with ``attention(q, k, v, layout.dense())[0]``.
    """
    _check_qkv(q, k, v, None)
    BlockLayout.check(layout, q, k)
    b, (nq, nk) = layout.block_size, layout.n_blocks
    T, S, device = q.shape[-2], k.shape[-2], q.device
    idx, counts = kept_tile_table(layout)
    order = torch.sort(counts, descending=True, stable=True).indices  # (nq,) most kept tiles first
    idx, counts = idx[order].to(device), counts[order].tolist()  # (nq, n), sorted counts
    # a tile needs no mask when it is full and holds no padded key (a partial last tile does)
    full = layout.full[order].to(device).gather(1, idx) & (idx < S // b)  # (nq, n)

    Q = _pad_to_blocks(q, nq, b)[..., order.to(device), :, :] / math.sqrt(q.shape[-1])  # (..., nq, b, D) sorted
    K = _pad_to_blocks(k, nk, b)  # (..., nk, b, D)
    V = _pad_to_blocks(v, nk, b)  # (..., nk, b, Dv)
    q_pos = (order.to(device)[:, None] * b + torch.arange(b, device=device))[:, :, None]  # (nq, b, 1)

    m = torch.full(Q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype, device=device)  # (..., a, b, 1)
    ell = torch.zeros_like(m)  # (..., a, b, 1)
    acc = torch.zeros(Q.shape[:-1] + (v.shape[-1],), dtype=v.dtype, device=device)  # (..., a, b, Dv)
    finished = []  # (acc, ell) of tiles set aside, in sorted order from the back
    for t in range(idx.shape[1]):
        a = sum(n > t for n in counts)  # tiles still running: a prefix of the sorted order
        if a < m.shape[-3]:  # the tiles a… have visited all their kept tiles
            finished.append((acc[..., a:, :, :], ell[..., a:, :, :]))
            m, ell, acc = m[..., :a, :, :], ell[..., :a, :, :], acc[..., :a, :, :]
        cols = idx[:a, t]  # (a,) the t-th kept key tile of every running query tile
        scores = Q[..., :a, :, :] @ K[..., cols, :, :].transpose(-2, -1)  # (..., a, b, b)
        if not bool(full[:a, t].all()):  # some tile at this step is partial
            kv_pos = (cols[:, None] * b + torch.arange(b, device=device))[:, None, :]  # (a, 1, b)
            in_range = (q_pos[:a] < T) & (kv_pos < S)  # (a, b, b)
            allowed = layout.tile_mask(q_pos[:a].clamp(max=T - 1), kv_pos.clamp(max=S - 1)) & in_range
            scores = scores.masked_fill(~allowed, float("-inf"))  # (..., a, b, b)
        # the running max only keeps exp() in range: the result does not depend on it, so it
        # carries no gradient, and the scores can be overwritten in place by e^{S − m'}
        m_new = torch.maximum(m, scores.detach().amax(dim=-1, keepdim=True))  # (..., a, b, 1)
        m_safe = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)  # no key yet: avoid ∞ − ∞
        p = scores.sub_(m_safe).exp_()  # (..., a, b, b) = e^{S − m'}; exp(−∞) = 0 for masked keys
        rescale = torch.exp(m - m_safe)  # (..., a, b, 1) = e^{m − m'}; 0 on the first visit
        ell = torch.addcmul(p.sum(dim=-1, keepdim=True), rescale, ell)  # (..., a, b, 1)
        acc = torch.addcmul(p @ V[..., cols, :, :], rescale, acc)  # (..., a, b, Dv)
        m = m_new
    finished.append((acc, ell))
    acc = torch.cat([chunk for chunk, _ in reversed(finished)], dim=-3)  # (..., nq, b, Dv) sorted
    ell = torch.cat([chunk for _, chunk in reversed(finished)], dim=-3)  # (..., nq, b, 1)
    out = acc / torch.where(ell > 0, ell, torch.ones_like(ell))  # rows with ℓ = 0 stay 0
    out = out[..., torch.argsort(order).to(device), :, :]  # (..., nq, b, Dv) back in tile order
    return out.flatten(-3, -2)[..., :T, :]  # (..., T, Dv)
