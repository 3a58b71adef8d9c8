"""Claims, measurements and the verdict rules (the rules are listed in :mod:`spark_edu.claims`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

REPORTS = {
    "modular": "Modular Sparse Transformers - Demonstration Report",
    "spark": "SPaR-K Architecture: Comprehensive Benchmark Results",
}

REPRODUCED = "reproduced"
MATCHES = "matches by construction"
DIFFERS = "differs"
NOT_AS_STATED = "not reproducible as stated"
VERDICTS = (REPRODUCED, MATCHES, DIFFERS, NOT_AS_STATED)

Claimed = float | tuple[float, float] | bool


@dataclass(frozen=True)
class Claim:
    """One number (or range, or yes/no) a report states, and where it states it.

    A *statement* (a finding in words, :mod:`spark_edu.claims.statements`) is a yes/no claim
    that the statement holds, with the operational ``criterion`` that decides it, written
    before measuring; its ``quantity`` is the report's sentence, quoted exactly.
    """

    key: str
    report: str
    section: str
    quantity: str
    claimed: Claimed
    unit: str
    chapter: str
    tolerance: float = 0.0  # absolute; a claim within it of the measured value is reproduced
    source: str = ""  # where the number came from, when the report or its code says
    criterion: str = ""  # statements only: the measurement and threshold that make it hold

    def __post_init__(self):
        if self.report not in REPORTS:
            raise ValueError(f"report must be one of {sorted(REPORTS)}, got {self.report!r}")
        if self.criterion and self.claimed is not True:
            raise ValueError(f"{self.key}: a statement claims that it holds (claimed=True)")

    @property
    def is_statement(self) -> bool:
        return bool(self.criterion)

    @property
    def claimed_text(self) -> str:
        return format_value(self.claimed)


@dataclass(frozen=True)
class Measurement:
    """A chapter's reproduction of the claim ``key``: value, optional interval, reason."""

    key: str
    value: float | bool | None
    low: float | None = None
    high: float | None = None
    as_stated: bool = True  # False: the claim cannot be computed as the report states it
    reason: str = ""
    by_construction: bool = False  # True: our code sets this quantity (a pattern's sparsity, top-2)
    details: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        from spark_edu.claims.registry import CLAIMS  # the registry is built from Claim, defined above

        if self.key not in CLAIMS:
            raise ValueError(f"unknown claim key {self.key!r}; see spark_edu.claims.CLAIMS")
        if (self.low is None) != (self.high is None):
            raise ValueError("low and high must be given together")
        if self.low is not None and not self.low <= self.high:
            raise ValueError(f"low must be <= high, got low={self.low}, high={self.high}")
        if self.value is None and self.as_stated:
            raise ValueError("a measurement without a value must set as_stated=False and give a reason")
        if self.by_construction and not self.as_stated:
            raise ValueError("a measurement is either set by construction or not reproducible as stated, not both")

    @property
    def measured_text(self) -> str:
        if self.value is None:
            return "—"
        text = format_value(self.value)
        if self.low is not None:
            text += f" [{format_value(self.low)}, {format_value(self.high)}]"
        return text


def format_value(value) -> str:
    """Fixed, stable rounding for tables that strict notebook tests compare."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return f"{format_value(value[0])} to {format_value(value[1])}"
    value = float(value)
    if math.isnan(value):
        return "nan"
    if value.is_integer():
        return f"{int(value):,}"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.4g}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def verdict(claim: Claim, measurement: Measurement) -> str:
    """Judge ``measurement`` against ``claim`` by the rules in :mod:`spark_edu.claims`."""
    return judge(claim, measurement)[0]


def judge(claim: Claim, measurement: Measurement) -> tuple[str, str]:
    """``(verdict, rule)``: the verdict and the rule that decided it, in a few words."""
    if measurement.key != claim.key:
        raise ValueError(f"measurement is for {measurement.key!r}, claim is {claim.key!r}")
    if not measurement.as_stated:
        return NOT_AS_STATED, "rule: cannot be computed as the report states it"
    value, low, high = measurement.value, measurement.low, measurement.high
    if claim.is_statement:
        holds = bool(value)
        return (REPRODUCED, "rule: its criterion holds") if holds else (DIFFERS, "rule: its criterion does not hold")
    if isinstance(claim.claimed, bool):
        same = bool(value) == claim.claimed
        return (REPRODUCED, "rule: yes/no answers agree") if same else (DIFFERS, "rule: yes/no answers disagree")
    if low is None:
        low = high = float(value)
    if measurement.by_construction:
        equal = _inside(float(value), claim)
        return (
            (MATCHES, "rule: our code sets this quantity") if equal else (DIFFERS, "rule: our code sets it otherwise")
        )
    if isinstance(claim.claimed, tuple):
        c_low, c_high = claim.claimed
        if c_low - claim.tolerance <= low and high <= c_high + claim.tolerance:
            return REPRODUCED, "rule: the measured interval lies inside the claimed range"
        return DIFFERS, "rule: the measured interval is not inside the claimed range (overlap is not enough)"
    claimed = float(claim.claimed)
    if low <= claimed <= high and low != high:
        return REPRODUCED, "rule: the claimed value lies inside the measured interval"
    if abs(float(value) - claimed) <= claim.tolerance:
        return REPRODUCED, f"rule: within the claim's tolerance ±{format_value(claim.tolerance)}"
    return DIFFERS, "rule: the claimed value is outside the measured interval and the tolerance"


def _inside(value: float, claim: Claim) -> bool:
    if isinstance(claim.claimed, tuple):
        return claim.claimed[0] - claim.tolerance <= value <= claim.claimed[1] + claim.tolerance
    return abs(value - float(claim.claimed)) <= claim.tolerance
