"""Argument checks shared by every module: each raises ``ValueError`` naming the argument
and the allowed range, so a reader's mistake gets a sentence, not a stack of shapes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def check_finite(name: str, tensor: torch.Tensor) -> None:
    """Reject NaN or infinite entries."""
    if not torch.is_tensor(tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")


def check_ndim(name: str, tensor: torch.Tensor, allowed: Sequence[int]) -> None:
    """Reject a tensor whose number of dimensions is not in ``allowed``."""
    if tensor.dim() not in allowed:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {tuple(tensor.shape)}"
        )


def check_range(
    name: str,
    value: float,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Reject ``value`` outside the interval from ``low`` to ``high`` (or NaN)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    above = v >= low if low_inclusive else v > low
    below = v <= high if high_inclusive else v < high
    if math.isnan(v) or not (above and below):
        lo = "[" if low_inclusive else "("
        hi = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must lie in {lo}{low}, {high}{hi}, got {value!r}")


def check_positive_int(name: str, value: int, minimum: int = 1) -> None:
    """Reject anything that is not an ``int`` of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_same_length(name_a: str, a: Sequence, name_b: str, b: Sequence) -> None:
    """Reject two sequences (or tensors' first axes) of different length."""
    if len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b} must have the same length, got {len(a)} and {len(b)}")
