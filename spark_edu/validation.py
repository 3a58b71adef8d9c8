"""Argument checks shared by every module: each raises ``ValueError`` (a value out of range)
or ``TypeError`` (not a tensor, or the wrong dtype) naming the argument and what is allowed,
so a reader's mistake gets a sentence, not a stack of shapes.

Real-valued tensors are computed in ``float32`` or ``float64`` (:data:`FLOAT_DTYPES`): some
kernels the mechanisms use have no half-precision CPU version (the LU solve of FK attention),
so half precision is refused up front rather than half-way through. Integer tensors hold
indices or labels; boolean tensors hold masks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

#: The dtypes real-valued inputs may have.
FLOAT_DTYPES = (torch.float32, torch.float64)


class DTypeError(TypeError, ValueError):
    """A tensor of the wrong type or dtype. A ``TypeError``; also a ``ValueError``, so callers
    that caught this package's ``ValueError`` for bad input (the command line does) still do."""


def check_tensor(name: str, value) -> None:
    """Reject anything that is not a ``torch.Tensor``."""
    if not torch.is_tensor(value):
        raise DTypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def all_finite(tensor: torch.Tensor) -> bool:
    """No NaN or ±∞ entry. A NaN or ∞ entry makes the sum NaN or ∞, so a finite sum proves it
    in one reduction; only a non-finite sum (which overflow can also give) is checked entry by entry."""
    with torch.no_grad():
        return bool(torch.isfinite(tensor.sum())) or bool(torch.isfinite(tensor).all())


def check_finite(name: str, tensor: torch.Tensor) -> None:
    """Reject a non-tensor, and NaN or infinite entries."""
    check_tensor(name, tensor)
    if tensor.is_floating_point() and not all_finite(tensor):
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")


def check_float(name: str, tensor: torch.Tensor, like: tuple[str, torch.Tensor] | None = None) -> None:
    """A finite tensor of a dtype in :data:`FLOAT_DTYPES` (the dtype of ``like = (name, t)``, if given)."""
    check_tensor(name, tensor)
    if tensor.dtype not in FLOAT_DTYPES:
        raise DTypeError(
            f"{name} must be a float32 or float64 tensor, got {tensor.dtype}"
            + (" (convert with .float())" if not tensor.is_complex() else "")
        )
    if like is not None and tensor.dtype != like[1].dtype:
        raise DTypeError(
            f"{name} has dtype {tensor.dtype} but {like[0]} has {like[1].dtype}; give both the same dtype "
            f"(e.g. {name}.to({like[0]}.dtype))"
        )
    check_finite(name, tensor)


def check_input(name: str, x: torch.Tensor, weight: torch.Tensor) -> None:
    """The input of a layer: a finite tensor with the dtype of the layer's ``weight``."""
    check_tensor(name, x)
    if x.dtype != weight.dtype:
        raise DTypeError(
            f"{name} must have the layer's dtype {weight.dtype}, got {x.dtype}; convert the input "
            f"({name}.to({weight.dtype})) or the layer (layer.to({x.dtype}), float32 or float64)"
        )
    check_finite(name, x)


def check_integer(name: str, tensor: torch.Tensor, low: int | None = 0, high: int | None = None) -> None:
    """An integer tensor (indices, labels) whose entries lie in ``[low, high)`` where given."""
    check_tensor(name, tensor)
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise DTypeError(f"{name} must be an integer tensor (e.g. torch.int64), got {tensor.dtype}")
    if tensor.numel() == 0:
        return
    lo, hi = int(tensor.min()), int(tensor.max())
    if (low is not None and lo < low) or (high is not None and hi >= high):
        allowed = f"[{low if low is not None else '-inf'}, {high - 1 if high is not None else 'inf'}]"
        raise ValueError(f"{name} must lie in {allowed} (integers), got values in [{lo}, {hi}]")


def check_bool(name: str, tensor: torch.Tensor) -> None:
    """A boolean tensor (a mask: True = keep)."""
    check_tensor(name, tensor)
    if tensor.dtype != torch.bool:
        raise DTypeError(f"{name} must be a bool tensor (True = keep), got dtype {tensor.dtype}")


def check_ndim(name: str, tensor: torch.Tensor, allowed: Sequence[int]) -> None:
    """Reject a non-tensor, or a tensor whose number of dimensions is not in ``allowed``."""
    check_tensor(name, tensor)
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
    """Reject a non-number (a string, None, a bool), NaN, ±inf, or ``value`` outside the interval."""
    is_number = isinstance(value, numbers.Real) or (torch.is_tensor(value) and value.numel() == 1)
    if isinstance(value, bool) or not is_number:
        raise DTypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if math.isinf(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
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
