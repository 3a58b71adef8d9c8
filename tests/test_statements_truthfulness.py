"""The truthfulness chapter's statement: constructed predictions whose accuracy does and does not
stay within 0.05 across thresholds, and ``measurements`` answering it from the chapter's results."""

from dataclasses import replace

import pytest
import torch

from spark_edu.chapters.truthfulness import experiments, statements
from spark_edu.claims import DIFFERS, REPRODUCED, claims_for, compare
from spark_edu.truthfulness.liar_like import liar_like_statements
from spark_edu.truthfulness.metrics import bootstrap_ci, metric_table

Y = torch.tensor([0, 1] * 200)


def _probs(true_p: float, false_p: float) -> torch.Tensor:
    """P(true) of ``true_p`` for every true statement and ``false_p`` for every false one."""
    return torch.where(Y == 1, torch.tensor(true_p), torch.tensor(false_p)).double()


def _by_t(changes: dict[float, float], at_half: float = 0.8) -> dict:
    """A constructed :func:`statements.threshold_accuracies` result with the given changes."""
    return {
        t: {"accuracy": (at_half + changes.get(t, 0.0),) * 3, "difference": (changes.get(t, 0.0),) * 3}
        for t in statements.THRESHOLDS
    }


def test_threshold_accuracies_measures_accuracy_and_its_paired_change():
    confident = statements.threshold_accuracies(Y, _probs(0.9, 0.1), n_resamples=200)
    assert all(row["accuracy"][0] == 1.0 and row["difference"] == (0.0, 0.0, 0.0) for row in confident.values())
    timid = statements.threshold_accuracies(Y, _probs(0.55, 0.45), n_resamples=200)
    assert timid[0.5]["accuracy"][0] == 1.0
    assert timid[0.4]["accuracy"][0] == timid[0.6]["accuracy"][0] == 0.5 and timid[0.3]["difference"][0] == -0.5
    change, low, high = timid[0.7]["difference"]
    assert change == -0.5 and low <= change <= high < 0


def test_threshold_accuracies_use_the_bootstrap_of_the_chapter():
    g = torch.Generator().manual_seed(1)
    probs = torch.rand(len(Y), generator=g, dtype=torch.float64) * 0.6 + 0.4 * Y
    out = statements.threshold_accuracies(Y, probs, n_resamples=100, seed=3)
    for t in statements.THRESHOLDS:
        assert out[t]["accuracy"] == pytest.approx(bootstrap_ci(Y, probs, "accuracy", t, 100, 0.95, 3))


def test_threshold_consistency_holds_within_the_tolerance_and_flips_beyond_it():
    m = statements.threshold_consistency({"a": _by_t({0.3: -0.05, 0.7: 0.04}), "b": _by_t({0.6: 0.01})})
    assert m.key == "modular.truth.threshold_consistency" and m.value is True
    assert "largest |change| 0.050 at 0.3" in m.reason and "for a and b" in m.reason
    flipped = statements.threshold_consistency({"a": _by_t({0.3: -0.051}), "b": _by_t({})})
    assert flipped.value is False and "outside 0.05 for a" in flipped.reason and flipped.details["failing"] == ["a"]


def test_one_classifier_failing_fails_the_statement():
    m = statements.threshold_consistency({"headline": _by_t({0.4: 0.02}), "other": _by_t({0.7: 0.2})})
    assert m.value is False and m.details["failing"] == ["other"]


def test_threshold_consistency_needs_the_reference_threshold():
    with pytest.raises(ValueError, match="reference threshold"):
        statements.threshold_consistency({"a": {0.3: _by_t({})[0.3]}})
    with pytest.raises(ValueError, match="at least one classifier"):
        statements.threshold_consistency({})


def _results(probs_by_classifier: dict) -> experiments.TruthResults:
    """A small TruthResults (400 LIAR-like statements) with constructed held-out predictions."""
    d = replace(liar_like_statements(len(Y), 0.2, 0.5, 0), labels6=5 * Y)  # binary labels Y
    assert torch.equal(d.labels, Y)
    probs = {("LIAR-like", c): p for c, p in probs_by_classifier.items()}
    tables = {key: metric_table(Y, p, n_resamples=50) for key, p in probs.items()}
    config = experiments.TruthExperiment(n=len(Y), n_resamples=100)
    return experiments.TruthResults(config, {"LIAR-like": d}, probs, tables, {}, {}, {}, {})


@pytest.mark.parametrize("transformer, verdict", [(_probs(0.9, 0.1), REPRODUCED), (_probs(0.55, 0.45), DIFFERS)])
def test_measurements_answer_the_statement_for_each_classifier(transformer, verdict):
    out = experiments.measurements(_results({"logistic regression": _probs(0.8, 0.2), "transformer": transformer}))
    assert sorted(m.key for m in out) == sorted(c.key for c in claims_for("truthfulness"))
    rows = {row.claim.key: row for row in compare(out).rows}
    row = rows["modular.truth.threshold_consistency"]
    assert row.verdict == verdict and "logistic regression" in row.why and "transformer" in row.why


def test_measurements_route_the_statement_to_its_function(monkeypatch):
    seen = {}

    def spy(accuracies, *args, **kwargs):
        seen["classifiers"] = list(accuracies)
        return real(accuracies, *args, **kwargs)

    real = statements.threshold_consistency
    monkeypatch.setattr(statements, "threshold_consistency", spy)
    experiments.measurements(_results({"logistic regression": _probs(0.8, 0.2)}))
    assert seen["classifiers"] == ["logistic regression"]
