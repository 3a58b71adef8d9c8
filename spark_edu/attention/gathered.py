"""The fast block-sparse path on CPU: one fused attention call per query tile, on its kept keys.

For each query tile ``I`` gather the keys and values of its kept tiles ``J₁ … Jₙ`` into one
contiguous block and call PyTorch's fused ``scaled_dot_product_attention`` on it:

    out_I = SDPA(Q_I, K_{J₁…Jₙ}, V_{J₁…Jₙ}, M_{I, J₁…Jₙ})        (eq-sparse-gathered)

The mask is passed only when one of the tiles is partial; a query tile whose kept tiles
are all full runs unmasked (the fastest case). Softmax over the gathered keys equals
softmax over the kept keys, so this is exact. The per-tile plan (which keys, which mask)
depends only on the layout and is built once by :func:`make_plan`, as FlexAttention builds
its ``BlockMask`` once; its masks are already the additive float form ``log M`` (0 or −∞)
that SDPA adds to the scores, so no call converts a boolean mask. Each tile's result is
written into one output tensor, not collected and joined at the end.

Dimension letters: B… leading (batch, heads), T queries, S keys, D head dim, b block size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.dense import _check_qkv
from spark_edu.attention.masks import additive_mask


@dataclass(frozen=True)
class TilePlan:
    """What query tile ``[start, stop)`` needs: its key positions and mask (None if all full)."""

    start: int
    stop: int
    keys: torch.Tensor | None  # (n·b,) long positions; None when no key is kept
    contiguous: bool  # the kept tiles form one run: slice instead of gather
    tiles: torch.Tensor | None  # (n,) kept key tiles if none is the short last one: gather whole tiles
    mask: torch.Tensor | None  # (stop − start, n·b) float, 0 where kept and −∞ where not; None if all full


def make_plan(layout: BlockLayout, device=None, dtype=torch.float32) -> list[TilePlan]:
    """One :class:`TilePlan` per query tile of ``layout``; masks in ``dtype`` on ``device``."""
    b, plan = layout.block_size, []
    for i in range(layout.n_blocks[0]):
        start, stop = i * b, min((i + 1) * b, layout.q_len)
        cols = layout.kept_blocks(i)  # (n,)
        if cols.numel() == 0:
            plan.append(TilePlan(start, stop, None, False, None, None))
            continue
        keys = (cols[:, None] * b + torch.arange(b)).flatten()  # (n·b,)
        keys = keys[keys < layout.kv_len]
        contiguous = bool((cols.diff() == 1).all())
        whole = None if contiguous or (cols[-1] + 1) * b > layout.kv_len else cols.to(device)
        mask = None
        if not bool(layout.full[i, cols].all()):
            allowed = layout.tile_mask(torch.arange(start, stop)[:, None], keys[None, :])  # (rows, n·b)
            mask = additive_mask(allowed, dtype).to(device)
        plan.append(TilePlan(start, stop, keys.to(device), contiguous, whole, mask))
    return plan


def gathered_block_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: BlockLayout, plan: list[TilePlan] | None = None
) -> torch.Tensor:
    """Block-sparse attention by one SDPA call per query tile (eq-sparse-gathered).

    q: (..., T, D), k: (..., S, D), v: (..., S, Dv) -> (..., T, Dv). Any length works.
    Pass ``plan = make_plan(layout, device, dtype)`` to reuse it across calls (it is rebuilt otherwise).
    """
    _check_qkv(q, k, v, None)
    BlockLayout.check(layout, q, k)
    plan = make_plan(layout, q.device, q.dtype) if plan is None else plan
    out = q.new_empty(q.shape[:-1] + (v.shape[-1],))  # (..., T, Dv): every row is written below
    b, whole = layout.block_size, k.shape[-2] // layout.block_size
    k_tiles, v_tiles = (x[..., : whole * b, :].unflatten(-2, (whole, b)) for x in (k, v))  # (..., S//b, b, D) views
    for tile in plan:
        q_tile = q[..., tile.start : tile.stop, :]  # (..., r, D)
        if tile.keys is None:  # no kept key: the row's output is zero, as in the reference
            out[..., tile.start : tile.stop, :] = 0
            continue
        if tile.contiguous:  # a run of tiles: a view, no copy
            lo, hi = int(tile.keys[0]), int(tile.keys[-1]) + 1
            k_tile, v_tile = k[..., lo:hi, :], v[..., lo:hi, :]  # (..., n·b, D)
        elif tile.tiles is not None:  # whole tiles: copy n blocks of b rows (faster than n·b single rows)
            k_tile = k_tiles.index_select(-3, tile.tiles).flatten(-3, -2)  # (..., n·b, D)
            v_tile = v_tiles.index_select(-3, tile.tiles).flatten(-3, -2)
        else:
            k_tile, v_tile = k[..., tile.keys, :], v[..., tile.keys, :]  # (..., n·b, D)
        mask = None if tile.mask is None else tile.mask.to(q.device, q.dtype)  # (r, n·b); a no-op when they match
        out[..., tile.start : tile.stop, :] = F.scaled_dot_product_attention(q_tile, k_tile, v_tile, attn_mask=mask)
    return out
