"""The SPD router (structure / pseudo-random decomposition), its metrics and its baselines.

* :mod:`~spark_edu.spd.router`    — the DCT basis, the split, the :class:`SPDRouter` layer
* :mod:`~spark_edu.spd.metrics`   — structure correlation and SNR (in dB)
* :mod:`~spark_edu.spd.baselines` — classical DCT-domain gates (thresholds, Wiener shrinkage, the
  DCT-diagonal Wiener gate, low-pass)
* :mod:`~spark_edu.spd.lmmse`     — the full-covariance linear estimator (LMMSE), W = C (C + σ² I)⁻¹

Papers: Tao (2007) structure and randomness; Ahmed, Natarajan & Rao (1974) DCT; Donoho &
Johnstone (1994) wavelet shrinkage; Wiener (1949) and Kay (1993) linear MMSE estimation;
Madhusudanan (2025) the SPaR-K prototype. Taught in ``book/spd_router.ipynb``.
"""

from spark_edu.spd.metrics import snr_db, snr_improvement_db, structure_correlation
from spark_edu.spd.router import BASES, SPDParts, SPDRouter, dct_basis, split

__all__ = [
    "BASES",
    "SPDParts",
    "SPDRouter",
    "dct_basis",
    "snr_db",
    "snr_improvement_db",
    "split",
    "structure_correlation",
]
