"""The spark_model chapter's statements: each criterion evaluated from constructed measurements,
a case that makes it hold and one that flips it, and ``reproduce`` routing each statement to its
function (spark_edu.chapters.spark_model.statements)."""

from __future__ import annotations

import pytest

from spark_edu.chapters.spark_model import experiments, statements
from spark_edu.chapters.spark_model.analysis import integration
from spark_edu.chapters.spark_model.effects import fk_effects, spd_effects, verifier_effects
from spark_edu.claims import CLAIMS, DIFFERS, NOT_AS_STATED, REPRODUCED, verdict

KEYS = {
    "stable_training": "spark.stats.stable_training",
    "components_integrate": "spark.stats.components_integrate",
    "significance": "spark.stats.significance",
    "reproducibility": "spark.stats.reproducibility",
}


def _verdict(m):
    return verdict(CLAIMS[m.key], m)


def _run(label="none", seed=0, top=2.0, median=1.0, finite=True, accs=(0.1, 0.1), lr=1e-3):
    return {
        "label": label,
        "seed": seed,
        "lr": lr,
        "steps": 10 * (len(accs) - 1),
        "curve": [{"step": 10 * i, "acc_predictable": a, "loss_predictable": 1.0} for i, a in enumerate(accs)],
        "grad_norm_max": top,
        "grad_norm_median": median,
        "finite": finite,
        "fk_q_max": None,
    }


# --- "spark.stats.stable_training" ---------------------------------------------------------------
def test_stable_training_needs_finite_losses_and_no_gradient_norm_above_ten_medians():
    calm = {"study": [_run("none", s, top=9.9) for s in range(3)] + [_run("SPD", 0, top=5.0, median=0.5)]}
    m = statements.stable_training(calm)
    assert m.key == "spark.stats.stable_training" and m.value is True and _verdict(m) == REPRODUCED
    assert "4 runs of 2 configurations" in m.reason and "10.0× (SPD, seed 0" in m.reason  # exactly 10×: holds
    spike = {**calm, "long": [_run("SPD", 2, top=20.0, median=1.0)]}  # one run of one configuration: 20×
    m = statements.stable_training(spike)
    assert m.value is False and _verdict(m) == DIFFERS
    assert "20.0× (SPD, seed 2" in m.reason and m.details["over_limit"] == {"SPD": [20.0]}
    nan = {"study": [_run("none", 0, finite=False)]}
    assert statements.stable_training(nan).value is False
    assert _verdict(statements.stable_training({})) == NOT_AS_STATED


# --- "spark.stats.components_integrate" ----------------------------------------------------------
def _factorial(values: dict[str, list[float]]) -> dict:
    runs = [_run(n, s, accs=(v, v)) for n, vs in values.items() for s, v in enumerate(vs)]
    return {"study": {"names": list(values), "steps": 10}, "best_lr": dict.fromkeys(values, 1e-3), "runs": runs}


FULL = {"FK+SPD+verifier": [0.5, 0.52, 0.51]}


def test_components_integrate_fails_when_leaving_a_component_out_helps():
    works = _factorial(
        {**FULL, "SPD+verifier": [0.5, 0.53, 0.5], "FK+verifier": [0.4, 0.41, 0.42], "FK+SPD": [0.5] * 3}
    )
    m = statements.components_integrate({"study": integration(works)})
    assert m.value is True and _verdict(m) == REPRODUCED
    conflict = _factorial({**FULL, "SPD+verifier": [0.9, 0.92, 0.91], "FK+verifier": [0.4] * 3, "FK+SPD": [0.5] * 3})
    m = statements.components_integrate({"study": integration(works), "long": integration(conflict)})
    assert m.value is False and _verdict(m) == DIFFERS and m.details["conflicts"] == ["FK"]
    assert "FK conflicts (full − SPD+verifier" in m.reason
    partial = statements.components_integrate({"study": integration(_factorial(FULL))})  # nothing to leave out
    assert _verdict(partial) == NOT_AS_STATED and "not measured" in partial.reason


# --- "spark.stats.significance" ------------------------------------------------------------------
def _records(diffs):
    out = []
    for seed, d in enumerate(diffs):
        out.append({"kind": "standard", "hops": 2, "layers": 1, "seed": seed, "accuracy": 0.5})
        out.append({"kind": "fk", "hops": 2, "layers": 1, "seed": seed, "accuracy": 0.5 + d})
    return out


def _verifier_results(diffs):
    runs = []
    for seed, d in enumerate(diffs):
        for model, acc in (("transformer", 0.8), ("verifier", 0.8 + d)):
            runs.append(
                {"language": 2, "seed": seed, "model": model, "lr": 1e-3, "test": {"validation": acc, "depth": acc}}
            )
    config = {"languages": [2], "seeds": list(range(len(diffs))), "models": ["transformer", "verifier"]}
    return {"config": config, "chosen_lr": {"2": {"transformer": 1e-3, "verifier": 1e-3}}, "runs": runs}


def test_significance_holds_only_when_every_effect_interval_contains_zero():
    noisy = {
        "FK − standard accuracy": fk_effects(_records([0.02, -0.03, 0.01])),
        "SPD output-SNR gain (dB)": spd_effects(
            [{"method": "router, learned basis", "noise": 0.5, "snr_improvement": g} for g in (1.0, -1.2, 0.3)]
        ),
        "verifier − standard accuracy": verifier_effects(_verifier_results([0.05, -0.04, 0.0])),
    }
    assert list(noisy["FK − standard accuracy"]) == ["2 hops, 1 layer"] and list(noisy["SPD output-SNR gain (dB)"]) == [
        "σ = 0.5"
    ]
    assert set(noisy["verifier − standard accuracy"]) == {"Dyck-2 validation", "Dyck-2 depth"}
    m = statements.significance(noisy)
    assert m.key == "spark.stats.significance" and m.value is True and _verdict(m) == REPRODUCED
    clear = {**noisy, "FK − standard accuracy": fk_effects(_records([-0.20, -0.21, -0.19]))}  # FK clearly worse
    m = statements.significance(clear)
    assert m.value is False and _verdict(m) == DIFFERS and "1 of 4 intervals exclude 0" in m.reason
    assert "2 hops, 1 layer -0.2" in m.reason
    assert _verdict(statements.significance({})) == NOT_AS_STATED


# --- "spark.stats.reproducibility" ---------------------------------------------------------------
def test_reproducibility_uses_each_claims_own_tolerance_around_the_median():
    steady = {"spark.fk.fk_accuracy": [1.0] * 7 + [0.995], "spark.spd.snr.n0.5": [2.0, 2.5, 1.5, 2.0, 2.9, 1.1, 2, 2]}
    assert CLAIMS["spark.fk.fk_accuracy"].tolerance == 0.01 and CLAIMS["spark.spd.snr.n0.5"].tolerance == 1.0
    m = statements.reproducibility(steady)
    assert m.key == "spark.stats.reproducibility" and m.value is True and _verdict(m) == REPRODUCED
    shaky = {**steady, "spark.fk.fk_accuracy": [1.0] * 7 + [0.985]}  # 0.015 from the median, tolerance 0.01
    m = statements.reproducibility(shaky)
    assert m.value is False and _verdict(m) == DIFFERS and "fk.fk_accuracy median 1" in m.reason
    assert m.details["numbers"]["spark.fk.fk_accuracy"]["outside"] == 1
    assert statements.reproducibility(shaky, {"spark.fk.fk_accuracy": 0.02}).value is True
    assert _verdict(statements.reproducibility({})) == NOT_AS_STATED


# --- reproduce routes every statement to its function --------------------------------------------
def _ablation(ratio: float) -> dict:
    norms = [1.0] * 9 + [ratio]
    record = {"label": "FK+SPD+verifier", "seed": 0, "grad_norms": norms, "losses": [1.0] * 10, "fk_bounds": []}
    return {"records": [record], "spec": {"run": {"steps": 10}}}


@pytest.mark.parametrize("ratio, stable", [(3.0, True), (30.0, False)])
def test_reproduce_routes_each_statement_to_its_function(monkeypatch, ratio, stable):
    study = _factorial({**FULL, "SPD+verifier": [0.5, 0.53, 0.5], "FK+verifier": [0.4] * 3, "FK+SPD": [0.5] * 3})
    study["sweep"] = []
    effects = {"FK − standard accuracy": fk_effects(_records([-0.2, -0.21, -0.19]))}
    repro = {"runs": {"spark.fk.improvement": [0.0] * 8}}
    monkeypatch.setattr(experiments, "load_study", lambda path=None: study if path is None else None)
    monkeypatch.setattr(experiments, "load_results", lambda: _ablation(ratio))
    monkeypatch.setattr(experiments, "load_reproducibility", lambda: repro)
    monkeypatch.setattr(experiments, "component_effects", lambda: effects)
    monkeypatch.setattr(experiments, "gradients_reach_components", lambda config: {"fk": 1.0})
    got = {m.key: m for m in experiments.reproduce(quick=True)}
    assert set(KEYS.values()) <= set(got) and set(got) == {k for k, c in CLAIMS.items() if c.chapter == "spark_model"}
    sources = {
        "saved study (convergence.json), 10 steps": study["runs"],
        **experiments.training_sources({}, _ablation(ratio)),
    }
    expected = {
        "stable_training": statements.stable_training(sources),
        "components_integrate": statements.components_integrate(
            {"saved study (convergence.json), 10 steps": integration(study)}, {"fk": 1.0}
        ),
        "significance": statements.significance(effects),
        "reproducibility": statements.reproducibility(repro["runs"]),
    }
    for name, key in KEYS.items():
        assert (got[key].value, got[key].reason) == (expected[name].value, expected[name].reason), name
    assert got["spark.stats.stable_training"].value is stable
    assert [got[k].value for k in KEYS.values()][1:] == [True, False, True]
