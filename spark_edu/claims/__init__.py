"""Every number the two reports claim, once, and the rules that judge a reproduction.

Reports (in the project's ``shared/reports/``):

* ``modular`` — "Modular Sparse Transformers - Demonstration Report" (June 2025).
* ``spark``   — "SPaR-K Architecture: Comprehensive Benchmark Results" (2025-01-21).

A chapter measures a claim with code in this package and returns a :class:`Measurement`;
:func:`verdict` judges it and :func:`compare` renders "claimed vs reproduced vs verdict".

Verdict rules (in :mod:`~spark_edu.claims.verdicts`, tested in ``tests/test_claims.py``):

* **not reproducible as stated** — the measurement says the claim cannot be computed as the
  report states it: a number its authors typed in, a quantity the report never defines, or
  a claim about a different workload than the one we can run; the honest measured version,
  if any, is shown beside it.
* **matches by construction** — a quantity our code sets (the sparsity of a built pattern,
  8 experts, top-2, 1,000 samples, a baseline's 1.0×): agreement is not evidence.
* **reproduced** — a point claim lies inside the measured interval ``[low, high]``, or within
  the claim's tolerance of the measured value; a claimed range contains the whole measured
  interval (overlap alone is not enough); a yes/no claim equals the measured answer.
* **differs** — otherwise.

:func:`judge` returns the verdict with the rule that decided it; tables print both.
"""

from spark_edu.claims.registry import CLAIMS, claims_for
from spark_edu.claims.table import ComparisonTable, Row, compare
from spark_edu.claims.verdicts import (
    DIFFERS,
    MATCHES,
    NOT_AS_STATED,
    REPORTS,
    REPRODUCED,
    VERDICTS,
    Claim,
    Measurement,
    format_value,
    judge,
    verdict,
)

__all__ = [
    "CLAIMS",
    "DIFFERS",
    "MATCHES",
    "NOT_AS_STATED",
    "REPORTS",
    "REPRODUCED",
    "VERDICTS",
    "Claim",
    "ComparisonTable",
    "Measurement",
    "Row",
    "claims_for",
    "compare",
    "format_value",
    "judge",
    "verdict",
]
