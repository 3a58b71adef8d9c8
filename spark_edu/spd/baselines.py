"""Classical denoisers a signal-processing reader would try before the SPD router.

Each one is the split of eq-spd-split in the orthonormal DCT basis with a gate chosen by a
rule instead of a network: coefficients ``c = Φᵀ x`` (``x @ dct_basis(N)``), gate ``g``,
estimate ``Φ (g ⊙ c)``. With noise ``σ ε``, the orthonormal DCT leaves the noise white with
the same ``σ`` in every coefficient, while a few low-frequency coefficients carry the signal.

* hard thresholding, ``g = 1[|c| > τ]`` (eq-spd-hard), and soft thresholding,
  ``g = max(0, 1 − τ/|c|)`` (eq-spd-soft), with the universal threshold
  ``τ = σ √(2 ln N)`` (Donoho & Johnstone, 1994; Donoho, 1995);
* Wiener-style shrinkage ``g = max(0, 1 − σ²/c²)`` (eq-spd-wiener): each coefficient is
  scaled by its estimated signal power over its total power (Wiener, 1949);
* the DCT-diagonal Wiener gate with a *prior* spectrum, ``g_f = P_f / (P_f + σ²)`` where
  ``P_f = E[c_f²]`` of clean training signals (eq-spd-diagonal-wiener): the Wiener filter
  restricted to gates, i.e. to filters that are diagonal in the DCT basis. It is the best
  linear filter only when the DCT diagonalises the signals' covariance; the unrestricted
  best linear filter, ``W = C (C + σ² I)⁻¹``, is :class:`spark_edu.spd.lmmse.LMMSE`;
* a low-pass projection ``g_f = 1[f < cutoff]`` (eq-spd-lowpass): the right choice when the
  band of the signals is known in advance, which is what a trained router can learn;
* ``σ`` known, or estimated by the median absolute deviation of the upper half of the
  coefficients, ``σ̂ = median|c_{f ≥ N/2}| / 0.6745`` (eq-spd-mad), where these signals have
  (almost) no energy.
"""

from __future__ import annotations

import math

import torch

from spark_edu.spd.router import dct_basis, split
from spark_edu.validation import check_finite, check_float, check_range

METHODS = ("hard", "soft", "wiener", "lowpass", "dct_diagonal_wiener")
MAD_TO_SIGMA = 0.6745  # median |N(0, 1)|


def mad_sigma(coefficients: torch.Tensor, high_fraction: float = 0.5) -> torch.Tensor:
    """eq-spd-mad: σ̂ from the top ``high_fraction`` of frequencies, per signal (..., N) -> (...)."""
    check_finite("coefficients", coefficients)
    check_range("high_fraction", high_fraction, 0.0, 1.0, low_inclusive=False)
    N = coefficients.shape[-1]
    start = min(N - 1, int(round(N * (1 - high_fraction))))
    return coefficients[..., start:].abs().median(dim=-1).values / MAD_TO_SIGMA  # (...)


def universal_threshold(sigma: torch.Tensor | float, n: int) -> torch.Tensor | float:
    """``τ = σ √(2 ln n)``: with n white Gaussian coefficients, the largest stays below τ w.h.p."""
    return sigma * math.sqrt(2 * math.log(n))


def gate_for(
    method: str,
    coefficients: torch.Tensor,
    sigma: torch.Tensor,
    cutoff: int | None = None,
    signal_power: torch.Tensor | None = None,
) -> torch.Tensor:
    """The gate (..., N) of ``method`` for DCT coefficients (..., N) and noise level (...)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    c = coefficients  # (..., N)
    if method == "dct_diagonal_wiener":
        if signal_power is None or signal_power.shape != c.shape[-1:]:
            raise ValueError(f"dct_diagonal_wiener needs signal_power of shape ({c.shape[-1]},)")
        return (signal_power / (signal_power + sigma[..., None] ** 2)).expand_as(c)  # eq-spd-diagonal-wiener
    if method == "lowpass":
        if cutoff is None or not 1 <= cutoff <= c.shape[-1]:
            raise ValueError(f"lowpass needs cutoff in [1, {c.shape[-1]}], got {cutoff!r}")
        return (torch.arange(c.shape[-1], device=c.device) < cutoff).to(c.dtype).expand_as(c)  # eq-spd-lowpass
    s = sigma[..., None]  # (..., 1)
    magnitude = c.abs().clamp_min(1e-12)  # (..., N)
    if method == "hard":
        return (c.abs() > universal_threshold(s, c.shape[-1])).to(c.dtype)  # eq-spd-hard
    if method == "soft":
        return (1 - universal_threshold(s, c.shape[-1]) / magnitude).clamp_min(0)  # eq-spd-soft
    return (1 - s**2 / magnitude**2).clamp_min(0)  # eq-spd-wiener


def dct_denoise(
    noisy: torch.Tensor,
    method: str,
    sigma: float | None = None,
    cutoff: int | None = None,
    signal_power: torch.Tensor | None = None,
) -> torch.Tensor:
    """Denoise signals (..., N) by ``method`` in the DCT basis; ``sigma=None`` estimates it (MAD).

    ``cutoff`` (number of DCT frequencies kept) is used by ``"lowpass"`` only, ``signal_power``
    (N,) (see :func:`prior_spectrum`) by ``"dct_diagonal_wiener"`` only.
    """
    check_float("noisy", noisy)
    if sigma is not None:
        check_range("sigma", sigma, 0.0)
    basis = dct_basis(noisy.shape[-1], dtype=noisy.dtype).to(noisy.device)  # (N, N)
    coefficients = noisy @ basis  # (..., N)
    if sigma is None:
        s = mad_sigma(coefficients)  # (...)
    else:
        s = torch.full(noisy.shape[:-1], float(sigma), dtype=noisy.dtype, device=noisy.device)
    structured, _ = split(noisy, basis, gate_for(method, coefficients, s, cutoff, signal_power))
    return structured


def prior_spectrum(clean: torch.Tensor) -> torch.Tensor:
    """``P_f = mean over signals of c_f²``, the DCT power spectrum of clean signals (B, N) -> (N,)."""
    check_finite("clean", clean)
    return (clean @ dct_basis(clean.shape[-1], dtype=clean.dtype).to(clean.device)).pow(2).mean(dim=0)
