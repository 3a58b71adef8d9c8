"""Scaled dot-product attention, written to read like its equation (Vaswani et al., 2017).

    Attention(Q, K, V) = softmax(Q Kᵀ / √d + log M) V          (eq-attention-sdpa)

Dimension letters: B batch, H heads, T queries, S keys, D head dim.
``M`` is a boolean mask (True = may attend). A query whose keys are all masked has no
distribution to take (a plain softmax gives 0/0 = NaN): we define its weights and output as
zeros, as FlexAttention and recent releases of PyTorch's fused kernel do.
"""

from __future__ import annotations

import math

import torch

from spark_edu.validation import check_bool, check_float, check_ndim


def _check_mask(mask: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> None:
    check_bool("mask", mask)
    t_len, s_len = q.shape[-2], k.shape[-2]
    if mask.dim() < 2 or mask.shape[-2:] != (t_len, s_len):
        raise ValueError(f"mask must end in (T, S) = ({t_len}, {s_len}), got shape {tuple(mask.shape)}")
    target = tuple(q.shape[:-1]) + (s_len,)
    try:
        fits = torch.broadcast_shapes(mask.shape, target) == target
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to {target}")


def _check_qk(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None) -> None:
    check_float("q", q)
    check_float("k", k, like=("q", q))
    check_ndim("q", q, (2, 3, 4))
    check_ndim("k", k, (2, 3, 4))
    if q.dim() != k.dim() or q.shape[:-2] != k.shape[:-2]:
        raise ValueError(
            f"q (..., T, D) and k (..., S, D) must have the same leading dims, "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the head dim D, got {q.shape[-1]} and {k.shape[-1]}")
    if q.shape[-1] == 0:
        raise ValueError("q and k must have a head dim D >= 1, got 0")
    if mask is not None:
        _check_mask(mask, q, k)


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> None:
    _check_qk(q, k, None)
    check_float("v", v, like=("q", q))
    check_ndim("v", v, (2, 3, 4))
    if v.dim() != k.dim() or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            "shapes must be q (..., T, D), k (..., S, D), v (..., S, Dv) with matching leading dims; "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if mask is not None:
        _check_mask(mask, q, k)


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``A = softmax(Q Kᵀ / √d + log M)``, with fully masked rows set to zero. Shape (..., T, S)."""
    _check_qk(q, k, mask)  # TypeError / ValueError naming the argument, before any arithmetic
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T, S)
    if mask is None:
        return scores.softmax(dim=-1)
    scores = scores.masked_fill(~mask, float("-inf"))  # (..., T, S)
    weights = scores.softmax(dim=-1)  # NaN on rows with no allowed key
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # (..., T, S)


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked scaled dot-product attention; returns ``(out, weights)``.

    q: (..., T, D), k: (..., S, D), v: (..., S, Dv), mask: bool broadcastable to (..., T, S).
    Implements eq-attention-sdpa; the reference every faster path is tested against.
    """
    _check_qkv(q, k, v, mask)
    weights = attention_weights(q, k, mask)  # (..., T, S)
    out = weights @ v  # (..., T, Dv)
    return out, weights
