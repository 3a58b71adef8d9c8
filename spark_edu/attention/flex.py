"""FlexAttention with a ``BlockMask`` built from the same mask predicates (Dong et al., 2024).

``torch.nn.attention.flex_attention`` takes a ``mask_mod`` — exactly our predicates
``(b, h, q_idx, kv_idx) -> bool`` — and a ``BlockMask``: the same empty / partial / full
tile bookkeeping as :class:`~spark_edu.attention.blocks.BlockLayout`, built by
``create_block_mask`` from the same predicate. Compiled, it generates one fused kernel that
skips empty tiles and evaluates the predicate only inside partial ones.

Three pitfalls, each measured in the chapter:

* **uncompiled** flex runs a reference implementation that materialises every score;
* ``block_mask=None`` means "no tile may be skipped": dense work;
* every new predicate, length or block size is a **recompile**; a sweep needs a larger
  ``torch._dynamo.config.recompile_limit`` (the default is 8), set by :func:`compiled_flex`.

On CPU (torch 2.13) FlexAttention is forward-only: it raises on inputs that require
gradients, so training on CPU uses the gathered-block kernel instead.
On CPU the compiled kernel is generated C++ (first call: tens of seconds, then cached on
disk); on CUDA it is Triton. Without ``flex_attention`` (torch < 2.5) :func:`available`
is False and callers fall back to the other kernels.
"""

from __future__ import annotations

import functools

import torch

from spark_edu.attention.dense import _check_qkv
from spark_edu.attention.masks import MaskPredicate
from spark_edu.validation import check_positive_int

try:
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
except ImportError:  # pragma: no cover - old torch
    create_block_mask = flex_attention = None

#: Recompiles allowed per compiled function before dynamo gives up and runs eagerly.
RECOMPILE_LIMIT = 64


def available() -> bool:
    """True when this torch has FlexAttention."""
    return flex_attention is not None


def flex_block_mask(
    predicate: MaskPredicate, q_len: int, kv_len: int | None = None, block_size: int = 128, device=None
):
    """``create_block_mask`` over the predicate: FlexAttention's tile layout of the same pattern."""
    if not available():  # pragma: no cover
        raise RuntimeError("FlexAttention needs torch >= 2.5")
    kv_len = q_len if kv_len is None else kv_len
    check_positive_int("q_len", q_len)
    check_positive_int("kv_len", kv_len)
    check_positive_int("block_size", block_size)
    device = "cpu" if device is None else device
    return create_block_mask(predicate, None, None, q_len, kv_len, device=device, BLOCK_SIZE=block_size)


def _keep_all(b, h, q_idx, kv_idx):
    return q_idx >= 0


@functools.lru_cache(maxsize=32)
def _every_tile(q_len: int, kv_len: int, device: str):
    """A BlockMask that skips no tile, for the inputs' own lengths (built once per shape)."""
    return flex_block_mask(_keep_all, q_len, kv_len, device=device)


@functools.cache
def compiled_flex():
    """``torch.compile(flex_attention)``, built once, with a recompile limit fit for sweeps."""
    if not available():  # pragma: no cover
        raise RuntimeError("FlexAttention needs torch >= 2.5")
    config = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):  # the name changed in torch 2.7
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
    if hasattr(config, "accumulated_recompile_limit"):
        config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, 4 * RECOMPILE_LIMIT)
    return torch.compile(flex_attention, dynamic=False)


def flex_sparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    block_mask=None,
    predicate: MaskPredicate | None = None,
    compiled: bool = True,
) -> torch.Tensor:
    """FlexAttention of q (B, H, T, D), k (B, H, S, D), v (B, H, S, Dv) -> (B, H, T, Dv).

    ``block_mask`` (from :func:`flex_block_mask`) lets the kernel skip empty tiles;
    ``predicate`` alone applies the mask with no skipping (the slow path). Rows with no
    kept key return zeros, as the dense reference does.
    """
    _check_qkv(q, k, v, None)
    if q.dim() != 4:
        raise ValueError(f"flex attention needs 4-d (B, H, T, D) inputs, got q of shape {tuple(q.shape)}")
    if block_mask is not None:
        expected = (q.shape[-2], k.shape[-2])
        if tuple(block_mask.shape[-2:]) != expected:
            raise ValueError(
                f"block_mask was built for (T, S) = {tuple(block_mask.shape[-2:])}, inputs have {expected}"
            )
    fn = compiled_flex() if compiled else flex_attention
    score_mod = None
    if block_mask is None and predicate is not None:  # mask without a BlockMask: every tile computed

        def score_mod(score, b, h, q_idx, kv_idx):
            return torch.where(predicate(b, h, q_idx, kv_idx), score, -float("inf"))

    if block_mask is None:
        # an explicit every-tile mask for the real lengths: torch 2.13's own default mis-computes
        # the last (batch, head) when the length is not a multiple of 128 (compiled, CPU, AVX2,
        # one thread; tests/test_sparse_attention.py checks it)
        block_mask = _every_tile(q.shape[-2], k.shape[-2], str(q.device))
    return fn(q, k, v, score_mod=score_mod, block_mask=block_mask)
