"""The best linear estimator of a clean signal from a noisy one: LMMSE, the full Wiener filter.

For ``x = s + σ ε`` with ``ε`` white and independent of the signal ``s``, mean ``μ = E[s]``
and covariance ``C = Cov(s)``, the affine map ``x ↦ A x + b`` with the least mean squared
error ``E‖A x + b − s‖²`` is (Wiener, 1949; Kay, 1993, ch. 12)

    ŝ = μ + W (x − μ),   W = C (C + σ² I)⁻¹        (eq-spd-lmmse)

because ``Cov(s, x) = C`` and ``Cov(x) = C + σ² I``. :class:`LMMSE` estimates ``μ`` and ``C``
from clean training signals and keeps ``C = U diag(λ) Uᵀ``, so that ``W = U diag(λ/(λ + σ²)) Uᵀ``
is cheap for any noise variance, one per signal included:

* one fixed ``σ²`` (a float): the best fixed linear filter when every signal has that noise;
* ``σ²`` replaced by the mean noise variance ``E[σ²]`` when each signal draws its own noise level
  (independently of ``s``, unknown to the filter): ``Cov(x) = C + E[σ²] I`` and ``Cov(s, x) = C``
  still, so this is the best *fixed* linear filter for the mixture;
* a tensor (B,) of per-signal variances: the *oracle* that knows each signal's noise.

If ``C`` is diagonal in the DCT basis, ``C = Φ diag(P) Φᵀ``, then ``W = Φ diag(P/(P + σ²)) Φᵀ``:
the diagonal gate ``"dct_diagonal_wiener"`` of :mod:`spark_edu.spd.baselines` is this estimator
with every covariance between DCT coefficients set to zero (and ``μ`` to zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.validation import check_finite, check_float, check_range


@dataclass(frozen=True)
class LMMSE:
    """eq-spd-lmmse fitted on clean signals: ``mean`` (N,), ``eigenvalues`` (N,) ≥ 0 and
    ``eigenvectors`` (N, N) (columns) of their covariance, in float64."""

    mean: torch.Tensor  # (N,)   μ
    eigenvalues: torch.Tensor  # (N,)   λ of C, clipped at 0
    eigenvectors: torch.Tensor  # (N, N) U, C = U diag(λ) Uᵀ

    @classmethod
    def fit(cls, clean: torch.Tensor) -> LMMSE:
        """Mean and covariance ``C = (1/B) Σ (s − μ)(s − μ)ᵀ`` of clean training signals (B, N)."""
        check_float("clean", clean)
        check_finite("clean", clean)
        if clean.dim() != 2 or clean.shape[0] < 2 or clean.shape[1] < 1:
            raise ValueError(f"clean must be training signals of shape (B, N) with B >= 2, got {tuple(clean.shape)}")
        s = clean.to(torch.float64)  # (B, N)
        mean = s.mean(dim=0)  # (N,)
        centred = s - mean  # (B, N)
        covariance = centred.T @ centred / s.shape[0]  # (N, N)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # (N,), (N, N)
        return cls(mean, eigenvalues.clamp_min(0.0), eigenvectors)

    @property
    def covariance(self) -> torch.Tensor:
        """``C = U diag(λ) Uᵀ`` (N, N)."""
        U = self.eigenvectors
        return U @ torch.diag(self.eigenvalues) @ U.T

    def gains(self, noise_variance) -> torch.Tensor:
        """``λ / (λ + σ²)`` in C's eigenbasis: (N,) for a float, (B, N) for per-signal variances (B,)."""
        variance = self._variance(noise_variance)  # () or (B,)
        return self.eigenvalues / (self.eigenvalues + variance[..., None])  # (N,) or (B, N)

    def matrix(self, noise_variance: float) -> torch.Tensor:
        """``W = C (C + σ² I)⁻¹ = U diag(λ/(λ + σ²)) Uᵀ`` (N, N) for one noise variance σ² > 0."""
        if isinstance(noise_variance, torch.Tensor) and noise_variance.dim() > 0:
            raise ValueError("matrix takes one noise variance (a float); estimate() takes one per signal")
        U = self.eigenvectors
        return U @ torch.diag(self.gains(noise_variance)) @ U.T

    def estimate(self, noisy: torch.Tensor, noise_variance) -> torch.Tensor:
        """``μ + W (x − μ)`` for signals ``noisy`` (B, N): one σ² (float) or one per signal ((B,) tensor)."""
        check_float("noisy", noisy)
        check_finite("noisy", noisy)
        N = self.mean.shape[0]
        if noisy.dim() != 2 or noisy.shape[1] != N:
            raise ValueError(f"noisy must have shape (B, {N}), got {tuple(noisy.shape)}")
        if isinstance(noise_variance, torch.Tensor) and noise_variance.dim() == 1:
            if noise_variance.shape[0] != noisy.shape[0]:
                raise ValueError(
                    f"noise_variance must have one value per signal ({noisy.shape[0]}), got {noise_variance.shape[0]}"
                )
        coefficients = (noisy.to(torch.float64) - self.mean) @ self.eigenvectors  # (B, N) in C's eigenbasis
        estimate = self.mean + (self.gains(noise_variance) * coefficients) @ self.eigenvectors.T  # (B, N)
        return estimate.to(noisy.dtype)

    def log_likelihood(self, noisy: torch.Tensor, noise_variance) -> torch.Tensor:
        """``log N(x; μ, C + σ² I)`` per signal (B,), the Gaussian model of the noisy signals, up
        to the constant ``−(N/2) log 2π``: ``−½ Σᵢ [log(λᵢ + σ²) + zᵢ² / (λᵢ + σ²)]``, ``z = Uᵀ(x − μ)``."""
        check_float("noisy", noisy)
        check_finite("noisy", noisy)
        total = self.eigenvalues + self._variance(noise_variance)[..., None]  # (N,) or (B, N)
        z = (noisy.to(torch.float64) - self.mean) @ self.eigenvectors  # (B, N)
        return -0.5 * (torch.log(total) + z.pow(2) / total).sum(dim=-1)  # (B,)

    def _variance(self, noise_variance) -> torch.Tensor:
        if isinstance(noise_variance, torch.Tensor):
            if noise_variance.dim() > 1 or not noise_variance.is_floating_point():
                raise ValueError(f"noise_variance must be a float or a float tensor (B,), got {noise_variance!r}")
            check_finite("noise_variance", noise_variance)
            if not bool((noise_variance > 0).all()):
                raise ValueError("noise_variance must be > 0 for every signal (σ² = 0 needs no filter)")
            return noise_variance.to(torch.float64)
        check_range("noise_variance", noise_variance, 0.0, low_inclusive=False)
        return torch.tensor(float(noise_variance), dtype=torch.float64)
