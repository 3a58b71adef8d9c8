"""Every number the two reports claim, once, and the rules that judge a reproduction.

Reports (in the project's ``shared/reports/``):

* ``modular`` — "Modular Sparse Transformers - Demonstration Report" (June 2025).
* ``spark``   — "SPaR-K Architecture: Comprehensive Benchmark Results" (2025-01-21).

A chapter measures a claim with code in this package and returns a :class:`Measurement`;
:func:`verdict` judges it and :func:`compare` renders "claimed vs reproduced vs verdict".

Verdict rules (tested in ``tests/test_claims.py``):

* **not reproducible as stated** — the measurement says the claim cannot be computed as the
  report states it (a number its authors typed in, a quantity the report never defines);
  the honest measured version, if any, is shown beside it.
* **reproduced** — a numeric claim lies inside the measured interval ``[low, high]``, or
  within the claim's tolerance of the measured value; a claimed range overlaps the
  measured interval; a yes/no claim equals the measured answer.
* **differs** — otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

REPORTS = {
    "modular": "Modular Sparse Transformers - Demonstration Report",
    "spark": "SPaR-K Architecture: Comprehensive Benchmark Results",
}

REPRODUCED = "reproduced"
DIFFERS = "differs"
NOT_AS_STATED = "not reproducible as stated"
VERDICTS = (REPRODUCED, DIFFERS, NOT_AS_STATED)

Claimed = float | tuple[float, float] | bool


@dataclass(frozen=True)
class Claim:
    """One number (or range, or yes/no) a report states, and where it states it."""

    key: str
    report: str
    section: str
    quantity: str
    claimed: Claimed
    unit: str
    chapter: str
    tolerance: float = 0.0  # absolute; a claim within it of the measured value is reproduced
    source: str = ""  # where the number came from, when the report or its code says

    def __post_init__(self):
        if self.report not in REPORTS:
            raise ValueError(f"report must be one of {sorted(REPORTS)}, got {self.report!r}")

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
    details: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.key not in CLAIMS:
            raise ValueError(f"unknown claim key {self.key!r}; see spark_edu.claims.CLAIMS")
        if (self.low is None) != (self.high is None):
            raise ValueError("low and high must be given together")
        if self.low is not None and not self.low <= self.high:
            raise ValueError(f"low must be <= high, got low={self.low}, high={self.high}")
        if self.value is None and self.as_stated:
            raise ValueError("a measurement without a value must set as_stated=False and give a reason")

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
    """Judge ``measurement`` against ``claim`` by the rules in the module docstring."""
    if measurement.key != claim.key:
        raise ValueError(f"measurement is for {measurement.key!r}, claim is {claim.key!r}")
    if not measurement.as_stated:
        return NOT_AS_STATED
    value, low, high = measurement.value, measurement.low, measurement.high
    if isinstance(claim.claimed, bool):
        return REPRODUCED if bool(value) == claim.claimed else DIFFERS
    if low is None:
        low = high = float(value)
    if isinstance(claim.claimed, tuple):
        c_low, c_high = claim.claimed
        overlaps = low <= c_high + claim.tolerance and c_low - claim.tolerance <= high
        return REPRODUCED if overlaps else DIFFERS
    claimed = float(claim.claimed)
    inside = low <= claimed <= high
    close = abs(float(value) - claimed) <= claim.tolerance
    return REPRODUCED if inside or close else DIFFERS


def _c(key, report, section, quantity, claimed, unit, chapter, tolerance=0.0, source=""):
    return Claim(key, report, section, quantity, claimed, unit, chapter, tolerance, source)


_THEORY = "computed as 1/(1 - sparsity) in the prototype, never measured"

_CLAIM_LIST = [
    # --- modular report: Attention Pattern Analysis -----------------------------------
    _c("modular.attention.dense.sparsity", "modular", "Attention Pattern Analysis", "dense attention: sparsity", 0.0, "fraction", "sparse_attention", 0.005),
    _c("modular.attention.dense.speedup", "modular", "Attention Pattern Analysis", "dense attention: speedup", 1.0, "x", "sparse_attention", 0.05),
    _c("modular.attention.local.sparsity", "modular", "Attention Pattern Analysis", "local window: sparsity", 0.60, "fraction", "sparse_attention", 0.01),
    _c("modular.attention.local.speedup", "modular", "Attention Pattern Analysis", "local window (60%): theoretical speedup", 2.5, "x", "sparse_attention", 0.1, _THEORY),
    _c("modular.attention.random.sparsity", "modular", "Attention Pattern Analysis", "sparse random: sparsity", 0.80, "fraction", "sparse_attention", 0.01),
    _c("modular.attention.random.speedup", "modular", "Attention Pattern Analysis", "sparse random (80%): theoretical speedup", 5.0, "x", "sparse_attention", 0.1, _THEORY),
    _c("modular.attention.block.sparsity", "modular", "Attention Pattern Analysis", "block sparse: sparsity", 0.70, "fraction", "sparse_attention", 0.01),
    _c("modular.attention.block.speedup", "modular", "Attention Pattern Analysis", "block sparse (70%): theoretical speedup", 3.3, "x", "sparse_attention", 0.1, _THEORY),
    # --- modular report: Computational Efficiency -----------------------------------
    _c("modular.memory.s50", "modular", "Computational Efficiency", "memory savings at 50% sparsity", 2.0, "x", "sparse_attention", 0.1, _THEORY),
    _c("modular.memory.s70", "modular", "Computational Efficiency", "memory savings at 70% sparsity", 3.3, "x", "sparse_attention", 0.1, _THEORY),
    _c("modular.memory.s80", "modular", "Computational Efficiency", "memory savings at 80% sparsity", 5.0, "x", "sparse_attention", 0.1, _THEORY),
    _c("modular.memory.s90", "modular", "Computational Efficiency", "memory savings at 90% sparsity", 10.0, "x", "sparse_attention", 0.1, _THEORY),
    _c("modular.efficiency.practical_speedup", "modular", "Computational Efficiency", "practical speedup (by sparsity and length)", (2.0, 10.0), "x", "sparse_attention"),
    # --- modular report: Model Architecture Comparison ------------------------------
    _c("modular.resources.memory", "modular", "Model Architecture Comparison", "80% sparse transformer: memory vs dense", 0.2, "x", "sparse_attention", 0.05),
    _c("modular.resources.time", "modular", "Model Architecture Comparison", "80% sparse transformer: time vs dense", 0.3, "x", "sparse_attention", 0.05),
    _c("modular.resources.performance", "modular", "Model Architecture Comparison", "80% sparse transformer: accuracy vs dense", 0.95, "fraction", "sparse_attention", 0.02),
    # --- modular report: Expert Routing Analysis -------------------------------------
    _c("modular.moe.experts", "modular", "Expert Routing Analysis", "number of expert modules", 8.0, "experts", "moe"),
    _c("modular.moe.top_k", "modular", "Expert Routing Analysis", "experts selected per token", 2.0, "experts", "moe"),
    _c("modular.moe.load_balance", "modular", "Expert Routing Analysis", "load balance coefficient (1.0 = perfectly balanced)", 0.85, "coefficient", "moe", 0.02),
    _c("modular.moe.specialization", "modular", "Expert Routing Analysis", "average expert specialisation", 0.73, "score", "moe", 0.02),
    # --- modular report: Truthfulness Evaluation -------------------------------------
    _c("modular.truth.samples", "modular", "Truthfulness Evaluation", "synthetic samples", 1000.0, "samples", "truthfulness"),
    _c("modular.truth.balance", "modular", "Truthfulness Evaluation", "fraction of true labels (balanced)", 0.5, "fraction", "truthfulness", 0.02),
    _c("modular.truth.accuracy", "modular", "Truthfulness Evaluation", "accuracy", 0.847, "fraction", "truthfulness", source="typed into the prototype; no classifier computed it"),
    _c("modular.truth.precision", "modular", "Truthfulness Evaluation", "precision", 0.823, "fraction", "truthfulness", source="typed into the prototype; no classifier computed it"),
    _c("modular.truth.recall", "modular", "Truthfulness Evaluation", "recall", 0.891, "fraction", "truthfulness", source="typed into the prototype; no classifier computed it"),
    _c("modular.truth.f1", "modular", "Truthfulness Evaluation", "F1 score", 0.856, "fraction", "truthfulness", source="typed into the prototype; no classifier computed it"),
    _c("modular.truth.auc", "modular", "Truthfulness Evaluation", "ROC AUC", 0.874, "fraction", "truthfulness", source="typed into the prototype; no classifier computed it"),
    # --- spark report: 1. Multi-hop Reasoning (FK-Attention) -------------------------
    _c("spark.fk.standard_accuracy", "spark", "1. Multi-hop Reasoning", "standard transformer accuracy", 1.0, "fraction", "fk_attention", 0.01),
    _c("spark.fk.fk_accuracy", "spark", "1. Multi-hop Reasoning", "FK-attention accuracy", 1.0, "fraction", "fk_attention", 0.01),
    _c("spark.fk.improvement", "spark", "1. Multi-hop Reasoning", "FK minus standard accuracy", 0.0, "fraction", "fk_attention", 0.01),
    # --- spark report: 2. Signal Separation (SPD Router) -----------------------------
    _c("spark.spd.corr.n0.1", "spark", "2. Signal Separation", "structure correlation at noise 0.1", 0.170, "correlation", "spd_router", 0.02),
    _c("spark.spd.snr.n0.1", "spark", "2. Signal Separation", "SNR improvement at noise 0.1", -14.0, "dB", "spd_router", 1.0),
    _c("spark.spd.corr.n0.3", "spark", "2. Signal Separation", "structure correlation at noise 0.3", 0.126, "correlation", "spd_router", 0.02),
    _c("spark.spd.snr.n0.3", "spark", "2. Signal Separation", "SNR improvement at noise 0.3", -6.5, "dB", "spd_router", 1.0),
    _c("spark.spd.corr.n0.5", "spark", "2. Signal Separation", "structure correlation at noise 0.5", 0.203, "correlation", "spd_router", 0.02),
    _c("spark.spd.snr.n0.5", "spark", "2. Signal Separation", "SNR improvement at noise 0.5", 1.5, "dB", "spd_router", 1.0),
    _c("spark.spd.corr.n0.6", "spark", "2. Signal Separation", "structure correlation at noise 0.6 (optimized)", 0.079, "correlation", "spd_router", 0.02),
    _c("spark.spd.snr.n0.6", "spark", "2. Signal Separation", "SNR improvement at noise 0.6 (optimized)", 2.2, "dB", "spd_router", 1.0),
    # --- spark report: 3. Algorithmic Generalization (Verifier Head) -----------------
    _c("spark.verifier.standard_accuracy", "spark", "3. Algorithmic Generalization", "standard transformer accuracy (range over tasks)", (0.760, 1.000), "fraction", "verifier"),
    _c("spark.verifier.verifier_accuracy", "spark", "3. Algorithmic Generalization", "verifier head accuracy (range over tasks)", (0.260, 0.640), "fraction", "verifier"),
    _c("spark.verifier.improvement", "spark", "3. Algorithmic Generalization", "verifier minus standard accuracy (range over tasks)", (-0.740, -0.120), "fraction", "verifier"),
    # --- spark report: Statistical Analysis ------------------------------------------
    _c("spark.stats.eval_time_comprehensive", "spark", "Statistical Analysis", "total evaluation time (comprehensive)", 46.1, "s", "spark_model", 2.0),
    _c("spark.stats.eval_time_quick", "spark", "Statistical Analysis", "total evaluation time (quick optimization)", 16.4, "s", "spark_model", 1.0),
    _c("spark.stats.parameters", "spark", "Statistical Analysis", "model parameters (2 layers, d=128, 4 heads)", 643272.0, "parameters", "spark_model"),
    _c("spark.stats.layers", "spark", "Statistical Analysis", "layers", 2.0, "layers", "spark_model"),
    _c("spark.stats.d_model", "spark", "Statistical Analysis", "model width d", 128.0, "dims", "spark_model"),
    _c("spark.stats.heads", "spark", "Statistical Analysis", "attention heads", 4.0, "heads", "spark_model"),
    _c("spark.stats.stable_training", "spark", "Statistical Analysis", "no gradient explosions or numerical instability", True, "yes/no", "spark_model"),
    _c("spark.stats.components_integrate", "spark", "Statistical Analysis", "all components work together without conflicts", True, "yes/no", "spark_model"),
    _c("spark.stats.components_improving", "spark", "Statistical Analysis", "components showing improvement (of 3)", 1.0, "components", "spark_model"),
]

CLAIMS: dict[str, Claim] = {c.key: c for c in _CLAIM_LIST}
if len(CLAIMS) != len(_CLAIM_LIST):  # pragma: no cover - guards the table above
    raise RuntimeError("duplicate claim keys in spark_edu.claims")


def claims_for(chapter: str) -> list[Claim]:
    """The claims a chapter reproduces, in report order."""
    found = [c for c in _CLAIM_LIST if c.chapter == chapter]
    if not found:
        chapters = sorted({c.chapter for c in _CLAIM_LIST})
        raise ValueError(f"chapter must be one of {chapters}, got {chapter!r}")
    return found


@dataclass(frozen=True)
class Row:
    claim: Claim
    measurement: Measurement
    verdict: str


class ComparisonTable:
    """Claimed vs reproduced vs verdict; prints as fixed-width text and renders as HTML."""

    columns = ("quantity", "claimed", "measured", "unit", "verdict", "why")

    def __init__(self, rows: list[Row]):
        self.rows = rows

    def records(self) -> list[dict[str, str]]:
        return [
            {
                "key": r.claim.key,
                "report": r.claim.report,
                "section": r.claim.section,
                "quantity": r.claim.quantity,
                "claimed": r.claim.claimed_text,
                "measured": r.measurement.measured_text,
                "unit": r.claim.unit,
                "verdict": r.verdict,
                "why": r.measurement.reason,
                "chapter": r.claim.chapter,
            }
            for r in self.rows
        ]

    def counts(self) -> dict[str, int]:
        return {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}

    def __repr__(self) -> str:
        records = self.records()
        widths = {c: max([len(c)] + [len(rec[c]) for rec in records]) for c in self.columns[:-1]}
        line = lambda rec: "  ".join(rec[c].ljust(widths[c]) for c in self.columns[:-1])  # noqa: E731
        header = line({c: c for c in self.columns})
        body = [line(rec) + ("" if not rec["why"] else f"  ({rec['why']})") for rec in records]
        return "\n".join([header, "-" * len(header), *body])

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(f"<th>{c}</th>" for c in self.columns)
        rows = []
        for rec in self.records():
            cls = rec["verdict"].replace(" ", "-")
            cells = "".join(f"<td>{escape(rec[c])}</td>" for c in self.columns)
            rows.append(f'<tr class="verdict-{cls}">{cells}</tr>')
        return f'<table class="claims-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def compare(measurements: list[Measurement]) -> ComparisonTable:
    """Pair measurements with their claims and judge each one."""
    rows = []
    for m in measurements:
        claim = CLAIMS[m.key]
        rows.append(Row(claim, m, verdict(claim, m)))
    return ComparisonTable(rows)
