"""The registry: every number of both reports, once, with its report, section and chapter,
then the reports' findings in words (:mod:`spark_edu.claims.statements`).

One claim per line, so a reader can scan the table against the reports (formatter off here).
"""

from __future__ import annotations

from spark_edu.claims.statements import STATEMENT_LIST
from spark_edu.claims.verdicts import Claim


# fmt: off
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
    _c("spark.stats.components_improving", "spark", "Statistical Analysis", "components showing improvement (of 3)", 1.0, "components", "spark_model"),
]

# fmt: on

_CLAIM_LIST += STATEMENT_LIST
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
