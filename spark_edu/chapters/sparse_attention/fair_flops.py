"""Analytic FLOPs of one training step of each model of :mod:`.fair_resources`.

A multiply-add counts 2 FLOPs. Per layer, head and sequence, attention computes ``E`` score
elements, each costing ``2D`` in ``Q Kᵀ`` and ``2D`` in ``A V``:

    attention forward = 4 · D · E · H · B · n_layers
    linear forward    = 2 · B · T · (n_layers · (4C² + 2 C F) + C V)      (QKV, output, MLP, head)
    one training step = 3 · forward                                        (backward ≈ 2 × forward)

``E`` is what the kernel computes: ``T²`` for ``dense`` (and ``dense_rope``) and for ``dense_local`` (SDPA with a
mask still computes every score; it *keeps* only the band), and the elements of the kept tiles
for ``sparse`` and ``sparse_rope`` (the gathered kernel computes each kept tile whole; the rotation's
``O(T·D)`` is not counted). Softmax, LayerNorm,
embeddings, the optimizer and the flash kernel's recomputation in backward are not counted.
"""

from __future__ import annotations

from spark_edu.attention.blocks import BlockLayout
from spark_edu.chapters.sparse_attention.fair_resources import MODELS, FairConfig, band_mask, sparse_layout
from spark_edu.validation import check_positive_int


def tile_elements(layout: BlockLayout) -> int:
    """Σ over kept tiles of their real area (the last row/column of tiles may be partial)."""
    b = layout.block_size
    rows = [min(b, layout.q_len - i * b) for i in range(layout.n_blocks[0])]
    cols = [min(b, layout.kv_len - j * b) for j in range(layout.n_blocks[1])]
    kept = layout.kept.nonzero().tolist()
    return sum(rows[i] * cols[j] for i, j in kept)


def elements(name: str, config: FairConfig) -> tuple[int, int]:
    """(computed, kept) score elements per layer, head and sequence for model ``name``."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {MODELS}, got {name!r}")
    full = config.length * config.length
    if name in ("dense", "dense_rope"):
        return full, full
    if name == "dense_local":
        return full, int(band_mask(config).sum())
    kept = tile_elements(sparse_layout(config))
    return kept, kept


def step_flops(name: str, config: FairConfig, batch: int) -> dict[str, int]:
    """FLOPs of one training step (forward + backward) of model ``name`` on ``batch`` sequences."""
    check_positive_int("batch", batch)
    computed, kept = elements(name, config)
    C, T, L = config.d_model, config.length, config.n_layers
    attention = 4 * config.head_dim * computed * config.n_heads * batch * L
    linear = 2 * batch * T * (L * (4 * C * C + 2 * C * 4 * C) + C * config.vocab_size)
    return {
        "computed_elements": computed,
        "kept_elements": kept,
        "attention": 3 * attention,
        "linear": 3 * linear,
        "total": 3 * (attention + linear),
    }
