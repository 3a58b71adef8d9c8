"""Experiments of the truthfulness chapter (``book/truthfulness.ipynb``) and ``reproduce``.

The report claims accuracy 0.847, precision 0.823, recall 0.891, F1 0.856 and AUC 0.874 on
1,000 balanced LIAR-like samples. In the prototype behind it these five numbers were typed
in, no classifier existed and its labels ignored the text. Here: 1,000 LIAR-like
statements whose labels depend on the text (noise η = 0.2, so the Bayes-optimal accuracy
is 0.90), and the same texts with prototype-style labels; two classifiers, each scored by
nested cross-validation (outer folds score every statement with a model that never saw it;
inner folds inside each outer training fold choose the learning rate and the penalty), with
95% percentile-bootstrap intervals over the 1,000 out-of-fold predictions, paired DeLong and
McNemar tests between the classifiers, and the ECE before and after temperature scaling.

:func:`run` does all of that, :func:`measurements` and :func:`reproduce` answer the claims (the
statement about thresholds through :mod:`~spark_edu.chapters.truthfulness.statements`),
:func:`noise_sweep` is a further experiment; the TruthfulQA-like split by fact is in
:mod:`~spark_edu.chapters.truthfulness.truthfulqa`, the plots in
:mod:`~spark_edu.chapters.truthfulness.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

from spark_edu.chapters.truthfulness import statements
from spark_edu.claims import CLAIMS, Measurement, claims_for
from spark_edu.device import one_thread
from spark_edu.display import Table
from spark_edu.pool import job_pool
from spark_edu.truthfulness.calibration import cross_fit_temperature, ece_change_interval, ece_interval
from spark_edu.truthfulness.classifiers import (
    LogRegConfig,
    TfidfLogisticRegression,
    TransformerClassifier,
    TransformerClassifierConfig,
    cross_val_probs,
)
from spark_edu.truthfulness.liar_like import bayes_optimal, liar_like_statements, prototype_style_statements
from spark_edu.truthfulness.metrics import bootstrap_ci, metric_table
from spark_edu.truthfulness.selection import grid, nested_cross_val
from spark_edu.truthfulness.stats import delong_test, mcnemar_test

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
    outer_folds: int = 5  # each statement is scored by a model trained on the other 4/5
    inner_folds: int = 2  # inside each outer training fold: choose the setting
    n_resamples: int = 1000
    transformer_steps: int = 150
    lr_grid: tuple = (0.03, 0.1, 0.3)  # logistic regression: full-batch AdamW learning rate
    l2_grid: tuple = (1e-5, 1e-4, 1e-3)  # logistic regression: λ of eq-truth-logreg
    transformer_lr_grid: tuple = (3e-4, 1e-3, 3e-3)  # 1e-2 was worst in a first inner-CV look
    #: the (data, classifier) pairs to run; the transformer on prototype-style labels is left
    #: out to keep the chapter in budget (a unit test shows it too scores chance there)
    pairs: tuple = (
        ("LIAR-like", "logistic regression"),
        ("LIAR-like", "transformer"),
        ("prototype-style", "logistic regression"),
    )


QUICK = TruthExperiment()
#: More resamples only. More transformer steps do not help: in the inner folds (400 training
#: statements) it over-fits, and at 300 steps the smallest learning rate wins by log loss.
FULL = replace(QUICK, n_resamples=4000)


@dataclass
class TruthResults:
    config: TruthExperiment
    data: dict  # name -> Statements
    probs: dict  # (data name, classifier name) -> outer out-of-fold P(true), (N,)
    tables: dict  # (data name, classifier name) -> {metric: (value, low, high)}
    chosen: dict  # (data name, classifier name) -> the setting each outer fold chose
    calibrated: dict  # (data name, classifier name) -> cross-fitted temperature-scaled P(true)
    temperatures: dict  # (data name, classifier name) -> the T of each calibration fold
    ece: dict  # (data name, classifier name) -> {"before", "after", "change": (v, lo, hi)}
    paired: dict = field(default_factory=dict)  # data name -> (DeLongResult, McNemarResult), LR vs transformer

    @property
    def bayes(self) -> dict[str, float]:
        return bayes_optimal(self.config.noise, self.config.balance)


def searches(config: TruthExperiment) -> dict:
    """name -> (make_fit(setting) -> fit function, the grid of settings its inner folds search)."""

    def logistic(setting):
        return partial(TfidfLogisticRegression.fit, config=LogRegConfig(lr=setting["lr"], l2=setting["l2"]))

    def transformer(setting):
        tf = TransformerClassifierConfig(steps=config.transformer_steps, lr=setting["lr"], seed=config.seed)
        return partial(TransformerClassifier.fit, config=tf)

    return {
        "logistic regression": (logistic, grid(lr=config.lr_grid, l2=config.l2_grid)),
        "transformer": (transformer, grid(lr=config.transformer_lr_grid)),
    }


def _data(config: TruthExperiment) -> dict:
    return {
        "LIAR-like": liar_like_statements(config.n, config.noise, config.balance, config.seed),
        "prototype-style": prototype_style_statements(config.n, config.seed),
    }


def _nested(config: TruthExperiment, d_name: str, c_name: str):
    """One (data, classifier) pair's nested CV, on one thread (a job of :func:`run`'s pool)."""
    d, (make_fit, settings) = _data(config)[d_name], searches(config)[c_name]
    with one_thread():
        return nested_cross_val(
            make_fit, settings, d.texts, d.labels, config.outer_folds, config.inner_folds, config.seed
        )


def run(config: TruthExperiment = QUICK, workers: int = 1) -> TruthResults:
    """Nested CV of every pair in ``config.pairs``: metrics, paired tests and calibration.

    ``workers``: pairs run at once, each in its own process on one thread (the results do not
    depend on it)."""
    data = _data(config)
    results = TruthResults(config, data, {}, {}, {}, {}, {}, {})
    with job_pool(workers) as pool:
        jobs = {pair: pool.submit(_nested, config, *pair) for pair in config.pairs}
        nested_by_pair = {pair: job.result() for pair, job in jobs.items()}
    for (d_name, c_name), nested in nested_by_pair.items():
        d = data[d_name]
        key = d_name, c_name
        results.probs[key], results.chosen[key] = nested.probs, nested.chosen
        results.tables[key] = metric_table(d.labels, nested.probs, 0.5, config.n_resamples, config.seed)
        calibrated, temps = cross_fit_temperature(d.labels, nested.probs, config.outer_folds, config.seed)
        results.calibrated[key], results.temperatures[key] = calibrated, temps
        results.ece[key] = {
            "before": ece_interval(d.labels, nested.probs, 10, config.n_resamples, config.seed),
            "after": ece_interval(d.labels, calibrated, 10, config.n_resamples, config.seed),
            "change": ece_change_interval(d.labels, nested.probs, calibrated, 10, config.n_resamples, config.seed),
        }
    for d_name, d in data.items():
        a, b = (d_name, "logistic regression"), (d_name, "transformer")
        if a in results.probs and b in results.probs:
            pa, pb = results.probs[a], results.probs[b]
            results.paired[d_name] = (
                delong_test(d.labels, pa, pb),
                mcnemar_test(d.labels, (pa >= 0.5).long(), (pb >= 0.5).long()),
            )
    return results


def format_tables(results: TruthResults) -> Table:
    """Claimed vs each (data, classifier) measurement with its 95% interval, as a book table."""
    cols = list(results.tables)
    rows = [
        [metric, CLAIMS[key].claimed, *(tuple(results.tables[c][metric]) for c in cols)]
        for metric, key in METRIC_CLAIMS.items()
    ]
    columns = ["metric", "claimed", *(f"{d} / {c}" for d, c in cols)]
    b = results.bayes
    notes = (
        f"Bayes-optimal on LIAR-like (noise {results.config.noise:g}): accuracy {b['accuracy']:.3f}, "
        f"AUC {b['auc']:.3f}; on prototype-style: AUC 0.5, accuracy <= majority rate "
        f"{max(results.data['prototype-style'].labels.float().mean().item(), 0.5):.3f}"
    )
    caption = "measured: value [95% bootstrap interval] over the outer folds' held-out predictions"
    return Table(rows, columns, {c: ".3f" for c in columns[1:]}, caption, notes)


def format_calibration(results: TruthResults) -> Table:
    """Per (data, classifier): the range of the fitted temperatures, the ECE [95% interval] before
    and after the cross-fitted temperature scaling, and the paired change after − before."""
    rows = []
    for (d_name, c_name), ece in results.ece.items():
        temps = results.temperatures[d_name, c_name]
        rows.append([d_name, c_name, (min(temps), max(temps))] + [tuple(ece[k]) for k in ("before", "after", "change")])
    columns = ["data", "classifier", "temperature T", "ECE before", "ECE after", "change (paired)"]
    formats = {"temperature T": ".2f", "ECE before": ".3f", "ECE after": ".3f", "change (paired)": "+.3f"}
    return Table(rows, columns, formats)


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
        other = results.tables.get(("LIAR-like", "transformer"), {}).get(metric, (None,))[0]
        proto = results.tables.get(("prototype-style", "logistic regression"), {}).get(metric, (None,))[0]
        out.append(
            Measurement(
                key,
                value,
                low,
                high,
                as_stated=False,
                reason="typed into the prototype, never computed; ours: TF-IDF logistic regression, "
                f"nested CV ({cfg.outer_folds} outer folds score, {cfg.inner_folds} inner folds choose lr and λ), "
                f"noise {cfg.noise:g} (Bayes accuracy {results.bayes['accuracy']:.2f})",
                details={"transformer": other, "prototype-style": proto, **_paired_details(results, metric)},
            )
        )
    out.append(statements.measure(results))  # the report's statement about thresholds
    keys = [c.key for c in claims_for(CHAPTER)]
    assert sorted(m.key for m in out) == sorted(keys), "every claim of the chapter must be measured"
    return out


def _paired_details(results: TruthResults, metric: str) -> dict:
    """DeLong's p (for the AUC) or McNemar's exact p (for the accuracy), LR vs transformer."""
    if "LIAR-like" not in results.paired:
        return {}
    delong, mcnemar = results.paired["LIAR-like"]
    if metric == "auc":
        return {"DeLong p (LR vs transformer)": delong.p_value}
    if metric == "accuracy":
        return {"McNemar exact p (LR vs transformer)": mcnemar.p_exact}
    return {}


def reproduce(quick: bool = False) -> list:
    """Re-measure every claim of the truthfulness section (quick: 1,000 bootstrap resamples instead of 4,000)."""
    return measurements(run(QUICK if quick else FULL))


def noise_sweep(
    noises=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), n: int = 1000, seed: int = 0, n_folds: int = 5, n_resamples: int = 1000
) -> list[dict]:
    """Logistic-regression accuracy (95% interval) and the Bayes-optimal accuracy at each noise level.

    The classifier keeps :class:`LogRegConfig`'s fixed defaults at every noise level (no
    tuning at all, so nothing is tuned on the statements it is scored on).
    """
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


def format_noise_sweep(rows: list[dict]) -> Table:
    """:func:`noise_sweep` as a book table: accuracy [95% interval] beside the Bayes-optimal accuracy."""
    table_rows = [[r["noise"], (r["accuracy"], r["low"], r["high"]), r["bayes"]] for r in rows]
    columns = ["noise η", "accuracy [95% CI]", "Bayes 1 − η/2"]
    return Table(table_rows, columns, {"noise η": ".1f", "accuracy [95% CI]": ".3f", "Bayes 1 − η/2": ".3f"})
