"""Experiments for the verifier-head chapter: a stack-augmented model against a causal
transformer and an LSTM of the same size, each at its own tuned learning rate, on Dyck-1 and
Dyck-2, with every label or with the sequence label only.

The runs themselves live in :mod:`spark_edu.chapters.verifier.runs`; this module reads them.
Two tasks are measured on distinct test strings that no model trained on: **validation** (is
the string balanced? accuracy of the sequence logit) and **depth** (the fraction of strings
whose nesting depth is predicted exactly at every position). Then length and depth
generalisation: train on short, shallow strings, test on longer or deeper ones.

``python -m spark_edu run verifier`` runs the whole sweep and writes ``results.json`` and the
seed-0 verifiers' weights, which the chapter reads from ``spark_edu/data/verifier/`` through
:func:`load_results`. ``reproduce`` re-measures the claims with the two models they name, at
the learning rates the sweep chose.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path

from spark_edu import results as saved
from spark_edu.chapters.verifier import stack_controls, statements
from spark_edu.chapters.verifier.models import QUICK, TASKS, ExperimentConfig, sequence_only
from spark_edu.chapters.verifier.sweep import chosen_runs, run_sweep
from spark_edu.claims import Measurement
from spark_edu.measure import mean_interval

BASELINE = "transformer"  # the report's "standard transformer": the causal two-layer one


def load_results(path: str | Path | None = None) -> dict:
    """The saved sweep: ``results.json`` shipped with the package, or the one at ``path``."""
    if path is None:
        return saved.load_json("verifier", "results.json")
    return json.loads(Path(path).read_text())


def accuracy_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over seeds, clipped to [0, 1]."""
    return mean_interval(values, 0.0, 1.0)


def metrics(run: dict, model: str) -> dict:
    """A run's measurements; ``model`` ending in ``_hard`` picks the discrete-stack evaluation."""
    return run["hard"] if model.endswith("_hard") else run


def trained_tasks(model: str) -> tuple[str, ...]:
    """The tasks a condition's outputs mean something for (a stack's depth is always its own)."""
    base = model.removesuffix("_hard")
    return TASKS if not sequence_only(base) or base.startswith("verifier") else ("validation",)


def runs_of(results: dict, language: int, model: str) -> list[dict]:
    """One run per seed at the chosen learning rate, for ``model`` (``_hard`` allowed)."""
    base = model.removesuffix("_hard")
    return sorted(
        (r for r in chosen_runs(results) if r["language"] == language and r["model"] == base), key=lambda r: r["seed"]
    )


def languages_done(results: dict) -> list[int]:
    """The languages whose every model has a run for every seed (all of them once the sweep is complete)."""
    cfg = results["config"]
    return [
        lang
        for lang in cfg["languages"]
        if all(len(runs_of(results, lang, m)) == len(cfg["seeds"]) for m in cfg["models"])
    ]


def summary(results: dict, models: tuple[str, ...] | None = None, split: str = "test") -> list[dict]:
    """One row per (language, task, model): mean accuracy and 95% interval over seeds."""
    models = tuple(results["config"]["models"]) if models is None else models
    rows = []
    for lang in languages_done(results):
        for task in TASKS:
            for model in models:
                if task not in trained_tasks(model):
                    continue
                runs = runs_of(results, lang, model)
                m, lo, hi = accuracy_interval([metrics(r, model)[split][task] for r in runs])
                rows.append(
                    {
                        "language": lang,
                        "task": task,
                        "model": model,
                        "mean": m,
                        "low": lo,
                        "high": hi,
                        "seeds": len(runs),
                        "lr": runs[0]["lr"],
                        "parameters": runs[0]["parameters"],
                    }
                )
    return rows


def curve(results: dict, language: int, model: str, probe: str, task: str) -> tuple[list[int], list[tuple]]:
    """Accuracy vs length (``probe="by_length"``) or depth, mean and interval over seeds."""
    runs = [metrics(r, model) for r in runs_of(results, language, model)]
    keys = sorted(int(k) for k in runs[0][probe])
    pts = [accuracy_interval([r[probe][str(k) if str(k) in r[probe] else k][task] for r in runs]) for k in keys]
    return keys, pts


def learning_curve(results: dict, language: int, model: str, task: str = "validation"):
    """Validation-part accuracy vs training step, mean and interval over seeds."""
    runs = runs_of(results, language, model)
    column = 1 + TASKS.index(task)
    steps = [p[0] for p in runs[0]["curve"]]
    return steps, [accuracy_interval([r["curve"][i][column] for r in runs]) for i in range(len(steps))]


def overlap_totals(results: dict) -> dict:
    """Shared strings between training and held-out sets, summed over (language, seed)."""
    groups = results["overlap"].values()
    return {
        key: sum(g[key] for g in groups)
        for key in ("test_in_train", "val_in_train", "probes_in_train", "train_distinct", "train_strings")
    } | {
        "unsplit_in_train": {k: v["unsplit_in_train"] for k, v in results["overlap"].items()},
        "test_distinct_min": min(g["test_distinct"] for g in groups),
    }


def measurements(results: dict) -> list[Measurement]:
    """The three claims of section 3, from the summary: ranges over (language, task)."""
    rows = summary(results, (BASELINE, "verifier"))
    by = {(r["language"], r["task"], r["model"]): r for r in rows}
    cells = sorted({(r["language"], r["task"]) for r in rows})
    n_seeds, n_test = rows[0]["seeds"], results["config"]["n_test"]
    detail = (
        f"the report never defines its depth metric, so its ranges over tasks cannot be computed as stated; "
        f"ours: range over {len(cells)} (language, task) cells, {n_seeds} seeds × {n_test} distinct test strings "
        f"none of which was trained on; standard = a causal 2-layer transformer of the same size, "
        f"each model at its tuned learning rate"
    )
    out = []
    for key, model in (
        ("spark.verifier.standard_accuracy", BASELINE),
        ("spark.verifier.verifier_accuracy", "verifier"),
    ):
        means = [by[c + (model,)]["mean"] for c in cells]
        out.append(Measurement(key, statistics.fmean(means), min(means), max(means), as_stated=False, reason=detail))
    diffs = [by[c + ("verifier",)]["mean"] - by[c + (BASELINE,)]["mean"] for c in cells]
    out.append(
        Measurement(
            "spark.verifier.improvement",
            statistics.fmean(diffs),
            min(diffs),
            max(diffs),
            as_stated=False,
            reason=detail,
        )
    )
    return out


def comparison_cells(results: dict) -> dict[tuple[int, str], dict[str, list[float]]]:
    """{(language, task): {"verifier": [...], "standard": [...]}}: test accuracy per seed, same seed order."""
    out = {}
    for lang in languages_done(results):
        for task in TASKS:
            out[(lang, task)] = {
                side: [r["test"][task] for r in runs_of(results, lang, model)]
                for side, model in (("verifier", "verifier"), ("standard", BASELINE))
            }
    return out


def load_long(path: str | Path | None = None) -> dict:
    """The saved verifier run at four times the budget: ``verifier_long.json`` (or the one at ``path``)."""
    return saved.load_json("verifier", "verifier_long.json") if path is None else load_results(path)


def longer_training_inputs(results: dict, long: dict, language: int = 2) -> dict:
    """The verifier's test accuracy per seed after the long run (``long``) and, in the same runs, at the
    chapter's budget (measured there part-way, ``test_at``); and the chapter's own runs at the budget
    (``results``), for the seeds both hold. The long run repeats the chapter's first steps only to float
    rounding, so the within-run numbers are the paired ones."""
    short = {r["seed"]: r for r in runs_of(results, language, "verifier")}
    longer = {r["seed"]: r for r in runs_of(long, language, "verifier")}
    seeds = sorted(set(short) & set(longer))
    if not seeds:
        raise ValueError("the long runs share no seed with the chapter's verifier runs")
    at = str(results["config"]["steps"])
    return {
        "budget": {task: [longer[s]["test_at"][at][task] for s in seeds] for task in TASKS},
        "long": {task: [longer[s]["test"][task] for s in seeds] for task in TASKS},
        "chapter": {task: [short[s]["test"][task] for s in seeds] for task in TASKS},
        "steps": (int(at), long["config"]["steps"]),
        "seeds": seeds,
    }


def statement_measurements(
    results: dict, long: dict, budget: dict | None = None, strings: list[str] | None = None
) -> list[Measurement]:
    """The three statements: the comparison cells of ``results``, the stack controls (on ``strings``,
    by default the chapter's control strings), and the long runs ``long`` against the chapter's runs
    at its budget (``budget``, by default the saved ``results.json``)."""
    cfg = ExperimentConfig()
    strings = stack_controls.control_strings(cfg) if strings is None else strings
    check = stack_controls.hard_stack_check(strings, cfg.stack_size)
    inputs = longer_training_inputs(load_results() if budget is None else budget, long)
    longer = statements.longer_training(inputs["budget"], inputs["long"], inputs["steps"], inputs["chapter"])
    longer.details.update({k: inputs[k] for k in ("seeds", "budget", "long", "chapter")})  # per seed
    return [
        statements.underperforms(comparison_cells(results)),
        statements.stack_correct(check, stack_controls.stack_losses(cfg)),
        longer,
    ]


def reproduce(quick: bool = False) -> list[Measurement]:
    """Measure every ``spark.verifier.*`` claim: the causal transformer and the verifier, every seed,
    at the learning rates the saved sweep chose, without the probes (quick: Dyck-2 only, 2 seeds,
    300 steps); then the statements (:func:`statement_measurements`, the long runs read from disk)."""
    lrs = load_results()["chosen_lr"]
    cfg = QUICK if quick else ExperimentConfig()
    cfg = replace(cfg, models=(BASELINE, "verifier"), probes=False)
    results = run_sweep(cfg, jobs=1 if quick else 2, lrs=lrs)
    return measurements(results) + statement_measurements(results, load_long())
