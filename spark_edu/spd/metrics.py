"""How well a denoiser recovered the structure: correlation and signal-to-noise ratio.

* :func:`structure_correlation` — Pearson correlation of estimate and clean signal, eq-spd-correlation;
* :func:`snr_db`, :func:`snr_improvement_db` — eq-spd-snr, and its gain over the noisy input.

The last axis of every input is the signal (length N); leading axes are batch.
"""

from __future__ import annotations

import torch

from spark_edu.validation import check_float


def _check_pair(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    check_float(name_a, a)
    check_float(name_b, b, like=(name_a, a))
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape (signal length included), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dim() == 0 or a.shape[-1] < 2:
        raise ValueError(
            f"{name_a} and {name_b} must be signals with a last axis of length >= 2, got shape {tuple(a.shape)}"
        )


def structure_correlation(estimate: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """eq-spd-correlation: Pearson ρ between each estimated and clean signal (last axis).

    ``ρ = Σ(a − ā)(b − b̄) / √(Σ(a − ā)² Σ(b − b̄)²)``; returns shape ``clean.shape[:-1]``.
    An estimate with no variation (e.g. all gates closed) gets ρ = 0 by convention.
    """
    _check_pair("estimate", estimate, "clean", clean)
    a = estimate - estimate.mean(dim=-1, keepdim=True)  # (..., N)
    b = clean - clean.mean(dim=-1, keepdim=True)  # (..., N)
    denominator = torch.sqrt((a * a).sum(-1) * (b * b).sum(-1))  # (...)
    numerator = (a * b).sum(-1)  # (...)
    return torch.where(denominator > 0, numerator / denominator.clamp_min(1e-30), torch.zeros_like(numerator))


def snr_db(clean: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """``10 log10(Σ clean² / Σ (estimate − clean)²)`` per signal (last axis), in dB."""
    _check_pair("clean", clean, "estimate", estimate)
    power = clean.pow(2).sum(-1)  # (...)
    if not bool((power > 0).all()):
        raise ValueError("clean must have some energy in every signal: the SNR of an all-zero signal is undefined")
    error = (estimate - clean).pow(2).sum(-1)  # (...)
    return 10 * torch.log10(power / error.clamp_min(1e-30))


def snr_improvement_db(clean: torch.Tensor, noisy: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """eq-spd-snr: output SNR minus input SNR, ``SNR(clean, estimate) − SNR(clean, noisy)``, dB."""
    _check_pair("noisy", noisy, "estimate", estimate)
    return snr_db(clean, estimate) - snr_db(clean, noisy)
