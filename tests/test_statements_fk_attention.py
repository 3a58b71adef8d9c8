"""The FK chapter's statements: "spark.fk.harder_tasks" and "spark.fk.overhead" judged from constructed
accuracy pairs and step costs (each verdict flipped by a small change), the pairs built from saved-format
cells and sweep records, and reproduce routing each statement to its function."""

import json

import pytest

from spark_edu.chapters.fk_attention import experiments, statements, step_cost, study, sweep
from spark_edu.claims import DIFFERS, REPRODUCED, claims_for, compare


def pair(cell="reach k=2 L=1", harder=True, diff=(-0.1, -0.2, 0.0), variant="fk β=0.5", source="study"):
    return {
        "source": source,
        "cell": cell,
        "variant": variant,
        "harder": harder,
        "seeds": 3,
        "standard": 0.8,
        "diff": list(diff),
    }


def cost(ratio=1.3, q1=1.2, q3=1.4, cell="pointer k=1 L=1", variant="fk β=0.5"):
    return {"cell": cell, "variant": variant, "ratio": ratio, "q1": q1, "q3": q3}


def test_harder_tasks_holds_only_when_a_harder_pair_is_above_zero():
    below = [pair(diff=(-0.05, -0.09, -0.01)), pair(diff=(0.01, -0.01, 0.03))]
    m = statements.harder_tasks(below)
    assert m.key == "spark.fk.harder_tasks" and m.value is False
    assert "in none of 2 harder" in m.reason and "+0.010 [-0.010, +0.030]" in m.reason  # the nearest pair
    flipped = statements.harder_tasks([*below, pair(cell="pointer k=3 L=1", diff=(0.04, 0.01, 0.07))])
    assert flipped.value is True and "pointer k=3 L=1" in flipped.reason
    easy = statements.harder_tasks([*below, pair(cell="pointer k=1 L=1", harder=False, diff=(0.04, 0.01, 0.07))])
    assert easy.value is False  # an easy cell above 0 is not a harder one
    assert statements.harder_tasks([pair(diff=(0.02, 0.0, 0.04))]).value is False  # "above 0": strictly
    assert [compare([m]).rows[0].verdict for m in (m, flipped)] == [DIFFERS, REPRODUCED]
    with pytest.raises(ValueError, match="harder"):
        statements.harder_tasks([pair(harder=False)])


def test_harder_tasks_reports_the_other_accuracy_measure_without_deciding_on_it():
    alternative = [pair(cell="reach_matched k=3 L=1", diff=(0.003, 0.001, 0.004))]
    m = statements.harder_tasks([pair()], alternative)
    assert m.value is False and "last evaluation instead of its best, above 0: study reach_matched" in m.reason


def test_overhead_needs_a_costlier_step_and_no_win_anywhere():
    pairs = [pair(harder=False, cell="pointer k=1 L=1", diff=(0.0, -0.001, 0.0)), pair()]
    m = statements.overhead([cost(1.27, 1.18, 1.37), cost(1.40, 1.30, 1.42)], pairs, source="saved")
    assert m.key == "spark.fk.overhead" and m.value is True
    assert "1.27x [IQR 1.18–1.37]" in m.reason and "1.40x" in m.reason and "(saved)" in m.reason
    assert "beats standard in 0 of 2" in m.reason
    cheaper = statements.overhead([cost(1.27), cost(0.98, 0.9, 1.05)], pairs)
    assert cheaper.value is False and "not above 1 in 1" in cheaper.reason
    win = pair(harder=False, cell="pointer k=1 L=1", diff=(0.02, 0.005, 0.035))  # an easy cell counts here
    won = statements.overhead([cost()], [*pairs, win])
    assert won.value is False and "beats standard in 1 of 3" in won.reason
    assert [compare([x]).rows[0].verdict for x in (m, cheaper, won)] == [REPRODUCED, DIFFERS, DIFFERS]
    with pytest.raises(ValueError):
        statements.overhead([], pairs)


def _run(variant, seed, curve, lr=1e-3):
    return {"variant": variant, "seed": seed, "lr": lr, "curve": curve, "final_accuracy": curve[-1][1]}


def test_accuracy_pairs_are_paired_by_seed_per_cell_and_variant():
    cell = {
        "cell": {"task": "pointer", "hops": 1, "layers": 1},
        "best_lr": {"standard": 1e-3, "fk β=0.5": 1e-3},
        "runs": [
            _run("standard", 0, [(100, 0.5), (200, 0.9)]),
            _run("standard", 1, [(100, 0.7), (200, 0.6)]),
            _run("standard", 1, [(100, 0.99)], lr=3e-3),  # another learning rate: not reported
            _run("fk β=0.5", 0, [(100, 0.8), (200, 0.7)]),
            _run("fk β=0.5", 1, [(100, 0.6), (200, 0.65)]),
        ],
    }
    records = [
        {"kind": k, "hops": 2, "layers": 1, "seed": s, "accuracy": a}
        for k, s, a in (("standard", 0, 0.9), ("standard", 1, 0.8), ("fk", 0, 0.7), ("fk", 1, 0.5), ("fk", 2, 0.1))
    ]
    best, swept = statements.accuracy_pairs([cell], records)
    assert (best["cell"], best["variant"], best["harder"], best["seeds"]) == ("pointer k=1 L=1", "fk β=0.5", False, 2)
    assert best["diff"][0] == pytest.approx(((0.8 - 0.9) + (0.65 - 0.7)) / 2)  # best accuracy of each run
    last = statements.accuracy_pairs([cell], records, metric="last")[0]
    assert last["diff"][0] == pytest.approx(((0.7 - 0.9) + (0.65 - 0.6)) / 2)
    assert (swept["source"], swept["cell"], swept["harder"], swept["seeds"]) == ("sweep", "pointer k=2 L=1", True, 2)
    assert swept["diff"][0] == pytest.approx(-0.25)  # seed 2 has no standard run to pair with
    assert statements.is_harder("reach", 1) and not statements.is_harder("pointer", 1)
    with pytest.raises(ValueError, match="metric"):
        statements.accuracy_pairs([cell], records, metric="final")


def test_reproduce_routes_each_statement_to_its_function(monkeypatch):
    calls = {}
    monkeypatch.setattr(experiments, "prototype_setting", lambda kind, seed: 1.0)
    monkeypatch.setattr(experiments, "pointer_run", lambda kind, layers, hops, seed, run: {"accuracy": 0.9})
    monkeypatch.setattr(study, "load_cells", lambda: ["cells"])
    monkeypatch.setattr(sweep, "load_records", lambda: ["records"])
    monkeypatch.setattr(step_cost, "load_step_cost", lambda: {"rows": ["rows"], "date": "d"})

    def fake_pairs(cells, records, metric="best"):
        assert (cells, records) == (["cells"], ["records"])
        return [metric]

    def fake(name):
        def judge(*args):
            calls[name] = args
            return statements.Measurement(getattr(statements, name.upper()), name == "harder", reason=name)

        return judge

    monkeypatch.setattr(statements, "accuracy_pairs", fake_pairs)
    monkeypatch.setattr(statements, "harder_tasks", fake("harder"))
    monkeypatch.setattr(statements, "overhead", fake("overhead"))
    got = {m.key: m for m in experiments.reproduce(quick=True)}
    assert set(got) == {c.key for c in claims_for("fk_attention")}
    assert got["spark.fk.harder_tasks"].reason == "harder" and got["spark.fk.overhead"].reason == "overhead"
    assert calls["harder"] == (["best"], ["last"])
    assert calls["overhead"] == (["rows"], ["best"], "saved step_cost.json, d", ["last"])


def test_step_cost_measures_a_paired_ratio_and_saves_it(tmp_path):
    rows = step_cost.measure_step_cost(cells=[("pointer", 1, 1)], variants=("fk β=0.5",), rounds=7, steps_per_call=1)
    assert [(r["cell"], r["variant"], r["rounds"]) for r in rows] == [("pointer k=1 L=1", "fk β=0.5", 7)]
    assert rows[0]["q1"] <= rows[0]["ratio"] <= rows[0]["q3"] and rows[0]["standard_ms"] > 0
    path = step_cost.save_step_cost(rows, tmp_path / "step_cost.json", wall_s=1.23)
    saved = step_cost.load_step_cost(path)
    assert saved["rows"] == json.loads(json.dumps(rows)) and saved["wall_s"] == 1.2 and "command" in saved
    assert step_cost.load_step_cost(tmp_path / "missing.json") is None
    assert "ratio [IQR]" in str(step_cost.format_step_cost(rows))
    with pytest.raises(ValueError):
        step_cost.measure_step_cost(rounds=3)


def test_saved_data_give_the_chapter_verdicts():
    """The shipped study and sweep: FK beats standard in no cell, so harder_tasks does not hold."""
    pairs = statements.accuracy_pairs(study.load_cells(), sweep.load_records())
    assert sum(p["harder"] for p in pairs) >= 20
    assert statements.harder_tasks(pairs).value is False
    saved = step_cost.load_step_cost()
    assert saved is not None and {r["cell"] for r in saved["rows"]} == {step_cost.cell_label(*c) for c in study.CELLS}
