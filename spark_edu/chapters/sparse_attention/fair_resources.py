"""A fair resource row: three transformers of one parameter count, two lagged-copy tasks.

Models (same :class:`~spark_edu.transformer.Transformer`, same initial weights per seed; only
the attention pattern and its kernel differ; attention is bidirectional, as the report's
patterns are):

* ``dense``: full attention, ``M[i, j] = 1`` (fused SDPA);
* ``dense_local``: dense computation (SDPA with a boolean mask) restricted to the sparse
  layout's band, ``M[i, j] = 1 ⇔ |⌊i/b⌋ − ⌊j/b⌋| ≤ band``: the same locality prior, no saving;
* ``sparse``: the 80 % block-sparse layout, band tiles first and then random ones
  (:func:`~spark_edu.attention.masks.random_block_layout`), through the gathered kernel;
* ``dense_rope``, ``sparse_rope``: ``dense`` and ``sparse`` with rotary positions
  (:mod:`spark_edu.attention.rotary`) instead of learned absolute ones, so "attend ``lag``
  back" is one relative offset for every query, the prior a modern dense baseline has.

Tasks (:mod:`spark_edu.tasks.lag_copy`, target ``y_i = x_{i − lag}``; :func:`lag`):

* ``local``: lag ``b/2`` (8 at b = 16), so the needed key is in the query's tile or the one
  before, inside the band (band ≥ 1) for every query;
* ``long_range``: lag ``(n_layers · band + 1) · b`` (48 for 2 layers, band 1, b = 16), so the
  needed key tile lies exactly that many tiles back for every query: beyond the band and beyond
  what ``n_layers`` band layers can relay. ``dense_local`` is at chance by construction;
  ``sparse`` reads it directly only where a random tile keeps it (:func:`needed_key_coverage`:
  14.8 % of queries at the default layout; 96.7 % are reachable through two kept tiles).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spark_edu.attention import masks
from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.layer import block_sparse_factory
from spark_edu.attention.multihead import MultiHeadSelfAttention
from spark_edu.tasks.lag_copy import IGNORE, LagCopyConfig
from spark_edu.transformer import Transformer, TransformerConfig
from spark_edu.validation import check_positive_int, check_range

MODELS = ("dense", "dense_local", "sparse", "dense_rope", "sparse_rope")
LEARNED_MODELS = MODELS[:3]  # learned absolute positions (the saved study's three)
ROPE_MODELS = MODELS[3:]  # rotary positions
TASKS = ("local", "long_range")


@dataclass(frozen=True)
class FairConfig:
    """The models' shape and the sparse layout (one layout, seed ``layout_seed``, for every run)."""

    length: int = 1024
    block_size: int = 16
    sparsity: float = 0.8
    band: int = 1  # tiles |I − J| ≤ band are kept by the sparse layout and form dense_local's mask
    layout_seed: int = 0
    vocab_size: int = 16
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2

    def __post_init__(self):
        for name in ("length", "block_size", "vocab_size", "d_model", "n_heads", "n_layers"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("band", self.band, minimum=0)
        check_positive_int("layout_seed", self.layout_seed, minimum=0)
        check_range("sparsity", self.sparsity, 0.0, 1.0, high_inclusive=False)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")

    @property
    def n_blocks(self) -> int:
        return -(-self.length // self.block_size)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def at(self, length: int) -> FairConfig:
        """The same models at another length (same tile size and sparsity; a new random layout)."""
        return dataclasses.replace(self, length=length)


def lag(task: str, config: FairConfig) -> int:
    """The lag of ``task``: ``b/2`` (local) or ``(n_layers · band + 1) · b`` (long_range)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "local":
        return max(1, config.block_size // 2)
    return (config.n_layers * config.band + 1) * config.block_size


def task_config(task: str, config: FairConfig, batch_size: int) -> LagCopyConfig:
    """The lagged-copy task ``task`` at the models' length (``ValueError`` if its lag does not fit)."""
    return LagCopyConfig(config.vocab_size, config.length, lag(task, config), batch_size)


def loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over the answered positions (target ≠ ``IGNORE``) of a lagged-copy batch."""
    tokens, targets = batch
    return F.cross_entropy(model(tokens).flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def band_layout(n_blocks: int, band: int) -> torch.Tensor:
    """The (n, n) bool tile layout ``Λ[I, J] = |I − J| ≤ band``."""
    check_positive_int("n_blocks", n_blocks)
    check_positive_int("band", band, minimum=0)
    idx = torch.arange(n_blocks)
    return (idx[:, None] - idx[None, :]).abs() <= band


def sparse_layout(config: FairConfig) -> BlockLayout:
    """The sparse model's tiles: the band, then random tiles up to ``1 − sparsity`` of all."""
    tiles = masks.random_block_layout(config.n_blocks, config.sparsity, config.layout_seed, band=config.band)
    predicate = masks.block_sparse(tiles, config.block_size)
    return BlockLayout.from_predicate(predicate, config.length, config.length, config.block_size)


def band_mask(config: FairConfig) -> torch.Tensor:
    """dense_local's (T, T) element mask: the sparse layout's band tiles, element by element."""
    predicate = masks.block_sparse(band_layout(config.n_blocks, config.band), config.block_size)
    return masks.dense_mask(predicate, config.length)


class MaskedSelfAttention(MultiHeadSelfAttention):
    """``MHA`` with one fixed boolean mask, computed densely: SDPA(Q, K, V, M) over all T × T."""

    def __init__(self, d_model: int, n_heads: int, mask: torch.Tensor):
        super().__init__(d_model, n_heads)
        if mask.dtype != torch.bool or mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
            raise ValueError(f"mask must be a square 2-d bool tensor, got {mask.dtype} {tuple(mask.shape)}")
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            raise ValueError("MaskedSelfAttention holds its own mask; pass mask=None")
        if x.dim() != 3 or x.shape[1] != self.mask.shape[0]:
            raise ValueError(f"x must have shape (B, {self.mask.shape[0]}, C), got {tuple(x.shape)}")
        return super().forward(x, self.mask)


def build_model(name: str, config: FairConfig, seed: int) -> Transformer:
    """Model ``name`` of :data:`MODELS`, its weights drawn from ``torch.manual_seed(seed)``."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {MODELS}, got {name!r}")
    shape = TransformerConfig(
        vocab_size=config.vocab_size,
        d_model=config.d_model,
        n_heads=config.n_heads,
        n_layers=config.n_layers,
        max_len=config.length,
        out_dim=config.vocab_size,
        positions="rotary" if name in ROPE_MODELS else "learned",
    )
    if name in ("dense", "dense_rope"):
        factory = None
    elif name == "dense_local":
        mask = band_mask(config)
        factory = lambda cfg, layer: MaskedSelfAttention(cfg.d_model, cfg.n_heads, mask)
    else:
        factory = block_sparse_factory(sparse_layout(config))
    torch.manual_seed(seed)
    return Transformer(shape) if factory is None else Transformer(shape, factory)


def needed_key_coverage(config: FairConfig, task: str) -> dict:
    """Where the key ``i − lag`` that query ``i`` needs lies, over the answered queries ``i ≥ lag``.

    Fractions of queries whose needed key tile is in the band (``in_band``), kept only by a
    random tile of the sparse layout (``random_tile``), not kept (``dropped``), and reachable
    in two layers through any kept tile, ``(Λ Λ)[I, J] > 0`` (``two_layers``; the residual
    stream carries it, but the intermediate token must learn to hold another token's id).
    """
    shift = task_config(task, config, 1).lag
    kept = sparse_layout(config).kept  # (n, n)
    band = band_layout(config.n_blocks, config.band)  # (n, n)
    queries = torch.arange(shift, config.length)
    rows, cols = queries // config.block_size, (queries - shift) // config.block_size
    in_band, direct = band[rows, cols], kept[rows, cols]
    two = ((kept.float() @ kept.float()) > 0)[rows, cols]
    n = len(queries)
    return {
        "lag": shift,
        "queries": n,
        "in_band": int(in_band.sum()) / n,
        "random_tile": int((direct & ~in_band).sum()) / n,
        "dropped": int((~direct).sum()) / n,
        "two_layers": int(two.sum()) / n,
    }
