"""Experiments of the truthfulness chapter (``book/truthfulness.ipynb``) and ``reproduce``.

The report claims accuracy 0.847, precision 0.823, recall 0.891, F1 0.856 and AUC 0.874 on
1,000 balanced LIAR-like samples. In the prototype behind it these five numbers were typed
in, no classifier existed and its labels ignored the text. Here: 1,000 LIAR-like
statements whose labels depend on the text (noise η = 0.2, so the Bayes-optimal accuracy
is 0.90), and the same texts with prototype-style labels; two classifiers, each scored by
5-fold cross-validation (every statement predicted by a model that never saw it), with
95% percentile-bootstrap intervals over the 1,000 out-of-fold predictions.

:func:`run` does all of that, :func:`measurements` and :func:`reproduce` answer the claims,
:func:`noise_sweep` and :func:`truthfulqa_demo` are the chapter's two further experiments. Their
plots are in :mod:`~spark_edu.chapters.truthfulness.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import torch

from spark_edu.claims import CLAIMS, Measurement, claims_for
from spark_edu.device import one_thread
from spark_edu.truthfulness.classifiers import (
    TfidfLogisticRegression,
    TransformerClassifier,
    TransformerClassifierConfig,
    cross_val_probs,
)
from spark_edu.truthfulness.liar_like import bayes_optimal, liar_like_statements, prototype_style_statements
from spark_edu.truthfulness.metrics import bootstrap_ci, metric_table, roc_auc
from spark_edu.truthfulness.truthfulqa_like import (
    imitation_scores,
    mc1_accuracy,
    multiple_choice_items,
    truthfulqa_like,
)

CHAPTER = "truthfulness"
METRIC_CLAIMS = {
    "accuracy": "modular.truth.accuracy",
    "precision": "modular.truth.precision",
    "recall": "modular.truth.recall",
    "f1": "modular.truth.f1",
    "auc": "modular.truth.auc",
}

#: LIAR as its paper reports it (Wang, 2017): quoted for the chapter's prose, not measured here.
#: The split sizes add up to ``LIAR_COUNTS``; the accuracy is the paper's best six-way test
#: accuracy (hybrid CNN over the text and all metadata, its Table 2).
LIAR_PAPER = {"splits": {"train": 10_269, "valid": 1_284, "test": 1_283}, "hybrid CNN test accuracy": 0.274}


@dataclass(frozen=True)
class TruthExperiment:
    n: int = 1000  # the report's sample size
    noise: float = 0.2  # our choice, fixed before measuring: Bayes-optimal accuracy 0.90
    balance: float = 0.5  # the report's "balanced true/false"
    seed: int = 0
    n_folds: int = 5
    n_resamples: int = 1000
    transformer_steps: int = 150


QUICK = TruthExperiment()
FULL = replace(QUICK, transformer_steps=400, n_resamples=4000)


@dataclass
class TruthResults:
    config: TruthExperiment
    data: dict  # name -> Statements
    probs: dict  # (data name, classifier name) -> out-of-fold P(true), (N,)
    tables: dict  # (data name, classifier name) -> {metric: (value, low, high)}

    @property
    def bayes(self) -> dict[str, float]:
        return bayes_optimal(self.config.noise, self.config.balance)


def classifiers(config: TruthExperiment) -> dict:
    """name -> fit function (texts, labels) -> model with ``predict_proba``."""
    tf_config = TransformerClassifierConfig(steps=config.transformer_steps, seed=config.seed)
    return {
        "logistic regression": TfidfLogisticRegression.fit,
        "transformer": partial(TransformerClassifier.fit, config=tf_config),
    }


def run(config: TruthExperiment = QUICK) -> TruthResults:
    """Both data sets × both classifiers: out-of-fold probabilities and bootstrap metric tables."""
    data = {
        "LIAR-like": liar_like_statements(config.n, config.noise, config.balance, config.seed),
        "prototype-style": prototype_style_statements(config.n, config.seed),
    }
    probs, tables = {}, {}
    for d_name, d in data.items():
        for c_name, fit in classifiers(config).items():
            with one_thread():
                p = cross_val_probs(fit, d.texts, d.labels, config.n_folds, config.seed)
            probs[d_name, c_name] = p
            tables[d_name, c_name] = metric_table(d.labels, p, 0.5, config.n_resamples, config.seed)
    return TruthResults(config, data, probs, tables)


def _interval(value_low_high: tuple[float, float, float]) -> str:
    value, low, high = value_low_high
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def format_tables(results: TruthResults) -> str:
    """Claimed vs each (data, classifier) measurement with 95% intervals, fixed rounding."""
    cols = list(results.tables)
    head = f"{'metric':<10}{'claimed':>9}" + "".join(f"  {d[:9] + ' / ' + c[:11]:>26}" for d, c in cols)
    lines = [head, "-" * len(head)]
    for metric, key in METRIC_CLAIMS.items():
        cells = "".join(f"  {_interval(results.tables[c][metric]):>26}" for c in cols)
        lines.append(f"{metric:<10}{CLAIMS[key].claimed:>9.3f}{cells}")
    b = results.bayes
    lines.append(
        f"Bayes-optimal on LIAR-like (noise {results.config.noise:g}): accuracy {b['accuracy']:.3f}, "
        f"AUC {b['auc']:.3f}; on prototype-style: AUC 0.5, accuracy = majority rate "
        f"{max(results.data['prototype-style'].labels.float().mean().item(), 0.5):.3f}"
    )
    return "\n".join(lines)


def measurements(results: TruthResults) -> list[Measurement]:
    """One Measurement per claim of the chapter, from ``results``."""
    cfg, d = results.config, results.data["LIAR-like"]
    out = [
        Measurement(
            "modular.truth.samples", float(len(d)), by_construction=True, reason="our generator's sample count"
        ),
        Measurement(
            "modular.truth.balance",
            d.labels.float().mean().item(),
            by_construction=True,
            reason="our generator draws balanced labels; the prototype's six-class labels were not balanced",
        ),
    ]
    table = results.tables["LIAR-like", "logistic regression"]
    for metric, key in METRIC_CLAIMS.items():
        value, low, high = table[metric]
        other = results.tables["LIAR-like", "transformer"][metric][0]
        out.append(
            Measurement(
                key,
                value,
                low,
                high,
                as_stated=False,
                reason="typed into the prototype, never computed; ours: TF-IDF logistic regression, "
                f"{cfg.n_folds}-fold CV, noise {cfg.noise:g} (Bayes accuracy {results.bayes['accuracy']:.2f})",
                details={
                    "transformer": other,
                    "prototype-style": results.tables["prototype-style", "logistic regression"][metric][0],
                },
            )
        )
    keys = [c.key for c in claims_for(CHAPTER)]
    assert sorted(m.key for m in out) == sorted(keys), "every claim of the chapter must be measured"
    return out


def reproduce(quick: bool = False) -> list:
    """Re-measure every claim of the truthfulness section (quick: 150 transformer steps, 1,000 resamples)."""
    return measurements(run(QUICK if quick else FULL))


def noise_sweep(
    noises=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), n: int = 1000, seed: int = 0, n_folds: int = 5, n_resamples: int = 1000
) -> list[dict]:
    """Logistic-regression accuracy (with 95% interval) and the Bayes-optimal accuracy at each noise level."""
    rows = []
    for noise in noises:
        d = liar_like_statements(n, noise, 0.5, seed)
        with one_thread():
            p = cross_val_probs(TfidfLogisticRegression.fit, d.texts, d.labels, n_folds, seed)
        acc, low, high = bootstrap_ci(d.labels, p, "accuracy", 0.5, n_resamples, seed=seed)
        rows.append(
            {"noise": noise, "accuracy": acc, "low": low, "high": high, "bayes": bayes_optimal(noise)["accuracy"]}
        )
    return rows


def truthfulqa_demo(n: int = 1000, n_test: int = 300, steps: int = 250, seed: int = 0) -> dict:
    """TruthfulQA-like pairs: held-out AUC of bag-of-words vs transformer, and MC1 of three scorers."""
    world, pairs = truthfulqa_like(n, noise=0.0, seed=seed)
    texts, y = list(pairs.texts), pairs.labels
    train_x, train_y, test_x, test_y = texts[:-n_test], y[:-n_test], texts[-n_test:], y[-n_test:]
    items = multiple_choice_items(world, seed=seed)
    out = {"world": world, "items": items}
    with one_thread():
        for name, fit in [
            ("bag-of-words LR", TfidfLogisticRegression.fit),
            (
                "transformer",
                partial(TransformerClassifier.fit, config=TransformerClassifierConfig(steps=steps, seed=seed)),
            ),
        ]:
            model = fit(train_x, train_y)
            out[name] = {
                "auc": roc_auc(test_y, model.predict_proba(test_x)),
                "mc1": mc1_accuracy(
                    items, [model.predict_proba([f"{it.question} | {c}" for c in it.choices]) for it in items]
                ),
            }
    oracle = [
        torch.tensor([float(c.split()[-1] == world.truth[it.entity][it.attribute]) for c in it.choices]) for it in items
    ]
    out["mc1 truth table"] = mc1_accuracy(items, oracle)
    out["mc1 imitation"] = mc1_accuracy(items, imitation_scores(world, items, seed=seed))
    return out
