"""Truthfulness evaluation: synthetic LIAR- and TruthfulQA-like data with a known signal,
metrics written from scratch, and two classifiers (TF-IDF logistic regression and the
book's transformer). Taught in ``book/truthfulness.ipynb``.

Modules: ``text`` (tokens, TF-IDF), ``liar_like`` (LIAR-like and prototype-style data,
Bayes-optimal accuracy), ``truthfulqa_like`` (questions with true answers and
misconceptions, MC1, the split by fact), ``metrics`` (confusion matrix … bootstrap),
``classifiers``, ``selection`` (nested cross-validation), ``stats`` (DeLong's and McNemar's
paired tests), ``calibration`` (temperature scaling), ``liar_tsv`` (the real LIAR files).
The chapter's runs, plots and widget live in :mod:`spark_edu.chapters.truthfulness`.

Papers: Wang (2017) LIAR; Lin, Hilton & Evans (2022) TruthfulQA; Fawcett (2006) ROC;
Hanley & McNeil (1982) AUC; Guo et al. (2017) calibration; Efron & Tibshirani (1994) bootstrap;
DeLong, DeLong & Clarke-Pearson (1988); McNemar (1947); Varma & Simon (2006) nested CV.
"""

from spark_edu.truthfulness.calibration import apply_temperature, cross_fit_temperature, fit_temperature
from spark_edu.truthfulness.classifiers import (
    LogRegConfig,
    TfidfLogisticRegression,
    TransformerClassifier,
    TransformerClassifierConfig,
    cross_val_probs,
)
from spark_edu.truthfulness.liar_like import (
    LIAR_LABELS,
    Statements,
    bayes_optimal,
    binary_collapse,
    liar_like_statements,
    prototype_style_statements,
)
from spark_edu.truthfulness.liar_tsv import load_liar
from spark_edu.truthfulness.metrics import (
    accuracy,
    bootstrap_ci,
    confusion_matrix,
    expected_calibration_error,
    f1_score,
    metric_table,
    precision,
    recall,
    roc_auc,
    roc_curve,
)
from spark_edu.truthfulness.selection import nested_cross_val
from spark_edu.truthfulness.stats import delong_test, mcnemar_test
from spark_edu.truthfulness.truthfulqa_like import fact_split, truthfulqa_like

__all__ = [
    "LIAR_LABELS",
    "LogRegConfig",
    "Statements",
    "TfidfLogisticRegression",
    "TransformerClassifier",
    "TransformerClassifierConfig",
    "accuracy",
    "apply_temperature",
    "bayes_optimal",
    "binary_collapse",
    "bootstrap_ci",
    "confusion_matrix",
    "cross_fit_temperature",
    "cross_val_probs",
    "delong_test",
    "expected_calibration_error",
    "f1_score",
    "fact_split",
    "fit_temperature",
    "liar_like_statements",
    "load_liar",
    "mcnemar_test",
    "metric_table",
    "nested_cross_val",
    "precision",
    "prototype_style_statements",
    "recall",
    "roc_auc",
    "roc_curve",
    "truthfulqa_like",
]
