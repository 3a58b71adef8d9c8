"""Sums of sinusoids plus Gaussian noise: the structure-vs-noise task of the SPD router chapter.

Each clean signal is ``s(t) = Σ_k a_k sin(2π f_k t / N + φ_k)`` for ``t = 0 … N−1`` with
``f_k`` (cycles per window) uniform in ``cycles``, ``φ_k`` uniform in [0, 2π) and ``a_k``
uniform in [0.5, 1]; it is then rescaled to the RMS of a unit-amplitude sine, 1/√2.
The noisy signal is ``x = s + σ ε`` with ``ε`` standard normal and ``σ = noise_level``.

So ``noise_level`` is the noise standard deviation *in units of the amplitude of a single
unit sine*, exactly the SPaR-K benchmark's setting (one ``sin(t)`` of amplitude 1 plus
``noise_level · randn``), and the input SNR is the same for any number of components:
``10 log10((1/2) / σ²)`` = 17.0, 7.4, 3.0, 1.4 dB at σ = 0.1, 0.3, 0.5, 0.6.

Worked example (N = 16, one component, σ = 0)::

    >>> g = torch.Generator().manual_seed(0)
    >>> batch = sinusoid_mixture(1, 16, 1, 0.0, g)  # frequency in [1, 8] cycles per window
    >>> batch.clean.shape
    torch.Size([1, 16])
    >>> round(batch.clean.pow(2).mean().item(), 4)  # RMS² = 1/2
    0.5
    >>> torch.equal(batch.noisy, batch.clean)     # no noise at σ = 0
    True

Nothing is ignored: every sample of ``clean`` is a target, every sample of ``noisy`` input.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from spark_edu.validation import check_positive_int, check_range

TARGET_RMS = 1 / math.sqrt(2)  # RMS of sin(t): the report's unit-amplitude sine


class SignalBatch(NamedTuple):
    clean: torch.Tensor  # (B, N) structured signal
    noisy: torch.Tensor  # (B, N) clean + noise
    noise: torch.Tensor  # (B, N) the Gaussian noise that was added


def sinusoid_mixture(
    n_signals: int,
    length: int,
    n_components: int,
    noise_level: float,
    generator: torch.Generator,
    cycles: tuple[float, float] = (1.0, 8.0),
) -> SignalBatch:
    """``n_signals`` random sums of ``n_components`` sinusoids of ``length`` samples, plus noise."""
    check_positive_int("n_signals", n_signals)
    check_positive_int("length", length, minimum=2)
    check_positive_int("n_components", n_components)
    check_range("noise_level", noise_level, 0.0)
    low, high = cycles
    check_range("cycles[0]", low, 0.0)
    check_range("cycles[1]", high, low, length / 2)  # at most Nyquist
    B, K, N, device = n_signals, n_components, length, generator.device
    t = torch.arange(N, dtype=torch.float32, device=device)  # (N,)
    freq = low + (high - low) * torch.rand(B, K, 1, generator=generator, device=device)  # (B, K, 1) cycles per window
    phase = 2 * math.pi * torch.rand(B, K, 1, generator=generator, device=device)  # (B, K, 1)
    amp = 0.5 + 0.5 * torch.rand(B, K, 1, generator=generator, device=device)  # (B, K, 1)
    clean = (amp * torch.sin(2 * math.pi * freq * t / N + phase)).sum(dim=1)  # (B, N)
    rms = clean.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-12)  # (B, 1)
    clean = clean * (TARGET_RMS / rms)  # (B, N), every signal has RMS 1/√2
    noise = noise_level * torch.randn(B, N, generator=generator, device=device)  # (B, N)
    return SignalBatch(clean, clean + noise, noise)


def input_snr_db(noise_level: float) -> float:
    """The expected input SNR, ``10 log10((1/2) / σ²)`` dB, for ``noise_level`` σ > 0.

    At σ = 0 the SNR is infinite: that is an error here, not a number to plot or average.
    """
    check_range("noise_level", noise_level, 0.0, low_inclusive=False)
    return 10 * math.log10(TARGET_RMS**2) - 20 * math.log10(noise_level)  # no underflow of σ² for tiny σ
