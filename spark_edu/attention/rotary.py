"""Rotary position embedding, RoPE (Su et al., 2021, "RoFormer", eq. 34).

Each pair of a head's features ``(x_{2m}, x_{2m+1})`` at position ``p`` is rotated by the angle
``p · θ_m`` with ``θ_m = base^{−2m/D}``:

    R_p x = (x_{2m} cos pθ_m − x_{2m+1} sin pθ_m,  x_{2m} sin pθ_m + x_{2m+1} cos pθ_m)_m

Rotating queries and keys makes every score depend on positions only through their offset,
``(R_i q)·(R_j k) = q · R_{j−i} k``: attention learns *relative* positions, whichever kernel
(dense, masked, block-sparse) computes the scores.
"""

from __future__ import annotations

import torch

from spark_edu.validation import check_positive_int


def rotary_angles(length: int, head_dim: int, base: float = 10_000.0, device=None) -> torch.Tensor:
    """(T, D/2) angles ``p · θ_m`` for positions ``p < length`` (``head_dim`` must be even)."""
    check_positive_int("length", length)
    check_positive_int("head_dim", head_dim)
    if head_dim % 2:
        raise ValueError(f"head_dim must be even to pair features for rotation, got {head_dim}")
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base}")
    theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)  # (D/2,)
    positions = torch.arange(length, dtype=torch.float64, device=device)
    return positions[:, None] * theta[None, :]  # (T, D/2)


def rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """``R_p x`` for x of shape (..., T, D) and angles (T, D/2) from :func:`rotary_angles`."""
    if x.dim() < 2 or x.shape[-2:] != (angles.shape[0], 2 * angles.shape[1]):
        raise ValueError(f"x must end in (T, D) = {(angles.shape[0], 2 * angles.shape[1])}, got {tuple(x.shape)}")
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (T, D/2)
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., T, D/2)
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)  # (..., T, D)
