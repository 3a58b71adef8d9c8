"""Sliding-window (band) attention that computes only the band ``|i − j| ≤ w``.

Query tile ``I = [s, s + b)`` can only see keys in ``[s − w, s + b + w)``: a slab of
``b + 2w`` keys. Pad the keys by ``w`` on both sides, cut one slab per query tile
(a strided view, ``unfold``), and run one batched softmax attention over all tiles:

    out_I = softmax(Q_I K_{slab(I)}ᵀ / √D + log M_I) V_{slab(I)}          (eq-sparse-band)

with ``M_I[r, c] = 1 ⇔ |r − c + w| ≤ w`` and the key inside ``[0, S)``. The work is
``T (b + 2w) D`` instead of ``T S D``: the band plus two triangles of width ``b``. Memory
is ``O(T (b + 2w))`` for the band mask and slabs, never ``T × S``. The mask depends only on
``(T, w, b)``: :func:`band_bias` builds it once in the additive form SDPA adds to the scores,
and a caller that runs the kernel many times passes it back in (``bias=``) instead of
paying for it on every call. Longformer (Beltagy et al., 2020) and BigBird (Zaheer et al.,
2020) chunk the band the same way.

Dimension letters: B… leading (batch, heads), T = S sequence, D head dim, w half-width,
b query tile size, nb = ⌈T/b⌉ tiles, W = b + 2w slab width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spark_edu.attention.dense import _check_qkv
from spark_edu.attention.masks import additive_mask
from spark_edu.validation import check_positive_int


def band_tile_mask(length: int, window: int, block_size: int, device=None) -> torch.Tensor:
    """The (nb, b, b + 2w) mask of every query tile over its slab (True = attend)."""
    nb, W = -(-length // block_size), block_size + 2 * window
    start = torch.arange(nb, device=device)[:, None, None] * block_size  # (nb, 1, 1)
    q_pos = start + torch.arange(block_size, device=device)[None, :, None]  # (nb, b, 1)
    kv_pos = start - window + torch.arange(W, device=device)[None, None, :]  # (nb, 1, W)
    in_band = (q_pos - kv_pos).abs() <= window  # (nb, b, W)
    return in_band & (kv_pos >= 0) & (kv_pos < length) & (q_pos < length)  # (nb, b, W)


def band_bias(length: int, window: int, block_size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """``log M`` of :func:`band_tile_mask`: (nb, b, b + 2w), 0 inside the band and −∞ outside."""
    return additive_mask(band_tile_mask(length, window, block_size, device), dtype)


def sliding_window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    block_size: int = 128,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Attention restricted to ``|i − j| ≤ window`` (eq-sparse-band); returns (..., T, Dv).

    q, k, v: (..., T, D) self-attention (same length). Any length works: the last tile is
    padded and its padding masked. Agrees with ``attention(q, k, v, dense_mask(sliding_window(w), T))``.
    Pass ``bias = band_bias(T, window, block_size, device, dtype)`` to reuse the mask across calls.
    """
    _check_qkv(q, k, v, None)
    check_positive_int("window", window)
    check_positive_int("block_size", block_size)
    T = q.shape[-2]
    if k.shape[-2] != T:
        raise ValueError(f"sliding_window_attention is for self-attention: q has T={T}, k has S={k.shape[-2]}")
    nb, W = -(-T // block_size), block_size + 2 * window
    if bias is not None and (bias.shape != (nb, block_size, W) or bias.dtype != q.dtype):
        raise ValueError(
            f"bias must be band_bias({T}, {window}, {block_size}) in {q.dtype}: shape {(nb, block_size, W)}, "
            f"got {tuple(bias.shape)} in {bias.dtype}"
        )
    if q.numel() == 0 or v.numel() == 0:  # an empty batch or sequence: nothing to attend
        return q.new_zeros(q.shape[:-1] + (v.shape[-1],))
    pad_end = nb * block_size - T
    Q = F.pad(q, (0, 0, 0, pad_end)).unflatten(-2, (nb, block_size))  # (..., nb, b, D)
    K = F.pad(k, (0, 0, window, window + pad_end)).unfold(-2, W, block_size).transpose(-1, -2)  # (..., nb, W, D)
    V = F.pad(v, (0, 0, window, window + pad_end)).unfold(-2, W, block_size).transpose(-1, -2)  # (..., nb, W, Dv)
    bias = band_bias(T, window, block_size, q.device, q.dtype) if bias is None else bias  # (nb, b, W)
    # The fused CPU kernel wants 4-d inputs and a 4-d mask (else it falls back to one that
    # stores every score): fold the leading axes into one, and let the tiles play "heads".
    lead = Q.shape[:-3]
    Q, K, V = (x.reshape((-1,) + x.shape[-3:]) for x in (Q, K, V))  # (N, nb, ·, ·)
    out = F.scaled_dot_product_attention(Q, K, V, attn_mask=bias[None])  # (N, nb, b, Dv)
    return out.reshape(lead + (nb * block_size, v.shape[-1]))[..., :T, :]  # (..., T, Dv)
