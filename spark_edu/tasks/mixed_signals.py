"""Non-stationary versions of the sinusoid task: each signal draws its own condition.

The SPD router chapter's stationary task (:func:`~spark_edu.tasks.signals.sinusoid_mixture`)
gives every signal the same noise level and band, so one fixed linear filter is the best
possible linear answer. Here the condition varies from signal to signal and the filter is not
told which one it got; an input-adaptive router could then beat every fixed linear filter.

* :func:`varying_noise` — the noise level of each signal is log-uniform in ``sigma_range``
  (``σ = exp(U(ln σ_lo, ln σ_hi))``), the band is fixed;
* :func:`varying_band` — each signal is drawn from one of ``bands`` (cycles per window),
  chosen uniformly, at one noise level.

Both return a :class:`MixedBatch`: the :class:`~spark_edu.tasks.signals.SignalBatch` fields plus
each signal's ``sigma`` and ``band`` (the condition an oracle may use). Clean signals keep the RMS
of a unit sine, 1/√2, as in the stationary task.

Worked example (N = 16, one component)::

    >>> g = torch.Generator().manual_seed(0)
    >>> b = varying_band(4, 16, 1, 0.0, ((1.0, 2.0), (5.0, 6.0)), g)
    >>> b.band.tolist(), torch.equal(b.noisy, b.clean)  # which band each signal came from; σ = 0
    ([0, 1, 1, 0], True)
    >>> v = varying_noise(3, 16, 1, (0.1, 1.0), g)
    >>> bool(((v.sigma >= 0.1) & (v.sigma <= 1.0)).all()), v.band.tolist()  # one band: index 0
    (True, [0, 0, 0])

Nothing is ignored: ``clean`` is the target, ``noisy`` the input; ``sigma`` and ``band`` are
only for oracles and for breaking results down by condition.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from spark_edu.tasks.signals import sinusoid_mixture
from spark_edu.validation import check_positive_int, check_range


class MixedBatch(NamedTuple):
    clean: torch.Tensor  # (B, N) structured signal
    noisy: torch.Tensor  # (B, N) clean + sigma · ε
    noise: torch.Tensor  # (B, N) the noise that was added
    sigma: torch.Tensor  # (B,)   each signal's noise standard deviation
    band: torch.Tensor  # (B,)   index of each signal's band (long)


def varying_noise(
    n_signals: int,
    length: int,
    n_components: int,
    sigma_range: tuple[float, float],
    generator: torch.Generator,
    cycles: tuple[float, float] = (1.0, 8.0),
) -> MixedBatch:
    """Signals of one band whose noise level is log-uniform in ``sigma_range`` = (σ_lo, σ_hi)."""
    low, high = sigma_range
    check_range("sigma_range[0]", low, 0.0, low_inclusive=False)
    check_range("sigma_range[1]", high, low)
    clean = sinusoid_mixture(n_signals, length, n_components, 0.0, generator, cycles).clean  # (B, N)
    u = torch.rand(n_signals, generator=generator, device=generator.device)  # (B,)
    sigma = torch.exp(math.log(low) + (math.log(high) - math.log(low)) * u)  # (B,)
    noise = sigma[:, None] * torch.randn(clean.shape, generator=generator, device=generator.device)  # (B, N)
    band = torch.zeros(n_signals, dtype=torch.long, device=generator.device)  # (B,)
    return MixedBatch(clean, clean + noise, noise, sigma, band)


def varying_band(
    n_signals: int,
    length: int,
    n_components: int,
    noise_level: float,
    bands: tuple[tuple[float, float], ...],
    generator: torch.Generator,
) -> MixedBatch:
    """Signals at one noise level, each from a band chosen uniformly among ``bands``."""
    check_positive_int("n_signals", n_signals)
    check_range("noise_level", noise_level, 0.0)
    if not isinstance(bands, (tuple, list)) or len(bands) < 2:
        raise ValueError(f"bands must list at least two (low, high) cycle ranges, got {bands!r}")
    band = torch.randint(len(bands), (n_signals,), generator=generator, device=generator.device)  # (B,)
    per_band = [sinusoid_mixture(n_signals, length, n_components, 0.0, generator, b).clean for b in bands]  # (B, N)
    clean = torch.stack(per_band)[band, torch.arange(n_signals)]  # (B, N): signal i from band[i]
    sigma = torch.full((n_signals,), float(noise_level), device=generator.device)  # (B,)
    noise = noise_level * torch.randn(clean.shape, generator=generator, device=generator.device)  # (B, N)
    return MixedBatch(clean, clean + noise, noise, sigma, band)
