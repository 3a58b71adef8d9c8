"""The gathered kernel, batched: one fused attention call per *group* of query tiles.

Query tiles that keep the same number ``n`` of key tiles gather key/value blocks of the same
size ``n·b``, so they stack into one batch and take one ``scaled_dot_product_attention`` call
(eq-sparse-gathered for every tile of the group at once):

    out_G = SDPA(Q_G, K_{J(G)}, V_{J(G)}, M_G)      Q_G: (…, G, b, D), K_{J(G)}: (…, G, n·b, D)

A long Python loop over tiles becomes a few large calls that the fused kernel can spread
over threads. Groups whose tiles are all full run unmasked; the others get an additive
float mask (0 or −∞) built once with the groups, not converted from bool on every call. The
short last query tile, and tiles that reach the short last key tile, form groups of their own.

Dimension letters: B… leading (batch, heads), T queries, S keys, D head dim, b block size,
G tiles in a group, n kept tiles per query tile of the group.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.dense import _check_qkv
from spark_edu.attention.masks import additive_mask


@dataclass(frozen=True)
class TileGroup:
    """Query tiles that gather the same number of keys: one SDPA call."""

    queries: torch.Tensor  # (G·r,) query positions, tile after tile
    keys: torch.Tensor  # (G·m,) key positions, m = n·b (or fewer at the edge) per tile
    tiles: int  # G
    mask: torch.Tensor | None  # (G, r, m) float, 0 where kept and −∞ where not; None if all full


def make_groups(layout: BlockLayout, device=None, dtype=torch.float32) -> list[TileGroup]:
    """Group the query tiles of ``layout`` by (rows, kept keys); tiles with no kept key are left out."""
    b, T, S = layout.block_size, layout.q_len, layout.kv_len
    by_shape: dict[tuple[int, int], list[tuple[torch.Tensor, torch.Tensor, bool]]] = {}
    for i in range(layout.n_blocks[0]):
        cols = layout.kept_blocks(i)  # (n,)
        if cols.numel() == 0:
            continue
        queries = torch.arange(i * b, min((i + 1) * b, T))  # (r,)
        keys = (cols[:, None] * b + torch.arange(b)).flatten()  # (n·b,)
        keys = keys[keys < S]  # (m,)
        all_full = bool(layout.full[i, cols].all())
        by_shape.setdefault((queries.numel(), keys.numel()), []).append((queries, keys, all_full))
    groups = []
    for members in by_shape.values():
        queries = torch.stack([q for q, _, _ in members])  # (G, r)
        keys = torch.stack([k for _, k, _ in members])  # (G, m)
        mask = None
        if not all(full for _, _, full in members):
            mask = additive_mask(layout.tile_mask(queries[:, :, None], keys[:, None, :]), dtype).to(device)  # (G, r, m)
        groups.append(TileGroup(queries.flatten().to(device), keys.flatten().to(device), len(members), mask))
    return groups


def grouped_block_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: BlockLayout, groups: list[TileGroup] | None = None
) -> torch.Tensor:
    """Block-sparse attention by one SDPA call per group of equally sized query tiles.

    q: (..., T, D), k: (..., S, D), v: (..., S, Dv) -> (..., T, Dv). Any length works; rows
    with no kept key return 0. Pass ``groups = make_groups(layout, device, dtype)`` to reuse them.
    """
    _check_qkv(q, k, v, None)
    BlockLayout.check(layout, q, k)
    groups = make_groups(layout, q.device, q.dtype) if groups is None else groups
    lead = q.shape[:-2]
    # the fused CPU kernel takes 4-d (batch, heads, L, D): leading dims become the batch, G the heads
    q4, k4, v4 = (x.reshape(-1, *x.shape[-2:]) for x in (q, k, v))  # (N, T, D), N = prod(lead)
    out = q4.new_zeros(q4.shape[:-1] + (v.shape[-1],))  # (N, T, Dv); rows no group covers stay 0
    for group in groups:
        q_g = q4[:, group.queries].unflatten(-2, (group.tiles, -1))  # (N, G, r, D)
        k_g = k4[:, group.keys].unflatten(-2, (group.tiles, -1))  # (N, G, m, D)
        v_g = v4[:, group.keys].unflatten(-2, (group.tiles, -1))  # (N, G, m, Dv)
        mask = None if group.mask is None else group.mask.to(q.dtype)  # (G, r, m)
        out_g = F.scaled_dot_product_attention(q_g, k_g, v_g, attn_mask=mask)  # (N, G, r, Dv)
        out[:, group.queries] = out_g.flatten(-3, -2)  # (N, G·r, Dv) into their rows
    return out.reshape(*lead, *out.shape[-2:])  # (..., T, Dv)
