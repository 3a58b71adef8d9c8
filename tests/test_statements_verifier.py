"""The verifier chapter's statements: each criterion evaluated from constructed measurements that
make it hold and fail, the stack controls on small cases, and reproduce's routing of each statement."""

import pytest

from spark_edu.chapters.verifier import experiments, stack_controls, statements
from spark_edu.claims import CLAIMS, DIFFERS, REPRODUCED, verdict

KEYS = ("spark.verifier.underperforms", "spark.verifier.stack_correct", "spark.verifier.longer_training")


def judged(m):
    return verdict(CLAIMS[m.key], m)


# --- "spark.verifier.underperforms" ----------------------------------------------------------


def test_underperforms_holds_only_when_every_cell_is_below_zero():
    below = {"verifier": [0.80, 0.82, 0.81], "standard": [0.90, 0.91, 0.92]}
    above = {"verifier": [0.99, 1.00, 0.98], "standard": [0.90, 0.91, 0.92]}
    m = statements.underperforms({(2, "validation"): below, (2, "depth"): below})
    assert m.key == "spark.verifier.underperforms" and m.value is True and judged(m) == REPRODUCED
    flipped = statements.underperforms({(2, "validation"): below, (2, "depth"): above})
    assert flipped.value is False and judged(flipped) == DIFFERS and "Dyck-2 depth" in flipped.reason


def test_underperforms_a_mean_below_zero_with_an_interval_across_zero_does_not_hold():
    # verifier − standard per seed: −0.135, +0.005, +0.004: mean below 0, interval contains 0
    cell = {"verifier": [0.865, 1.0, 1.0], "standard": [1.0, 0.995, 0.996]}
    m = statements.underperforms({(2, "validation"): cell})
    (mean, low, high) = m.details["gaps"]["2/validation"]
    assert mean < 0 < high and m.value is False


def test_underperforms_pairs_by_seed():
    with pytest.raises(ValueError, match="same non-zero number of seeds"):
        statements.underperforms({(2, "depth"): {"verifier": [1.0, 1.0], "standard": [0.9]}})


# --- "spark.verifier.stack_correct" ----------------------------------------------------------

CHECK = {"strings": 10, "steps": 100, "exact_strings": 10, "largest_abs_diff": 0.0}
LOSSES = {"initial": 3.77, "trained": 1e-5, "seed": 0}


def test_stack_correct_needs_both_an_exact_stack_and_a_lower_loss():
    m = statements.stack_correct(CHECK, LOSSES)
    assert m.key == "spark.verifier.stack_correct" and m.value is True and judged(m) == REPRODUCED
    inexact = statements.stack_correct(CHECK | {"largest_abs_diff": 2e-5, "exact_strings": 9}, LOSSES)
    assert inexact.value is False and judged(inexact) == DIFFERS
    barely_lower = statements.stack_correct(CHECK, {"initial": 3.77, "trained": 0.5})  # ratio 0.13 > 0.1
    assert barely_lower.value is False and "not below 0.1" in barely_lower.reason


def test_hard_stack_check_matches_a_discrete_stack_and_detects_a_wrong_one(monkeypatch):
    strings = ["([])", "([)]", "))((", "(" * 20 + ")" * 20, "[[[(()]"]  # valid, mismatched, underflow, overflow
    check = stack_controls.hard_stack_check(strings, stack_size=16)
    assert check["largest_abs_diff"] == 0.0 and check["exact_strings"] == len(strings)
    assert check["steps"] == sum(map(len, strings))
    right = stack_controls.discrete_stacks

    def wrong_at_step_5(strings, size):  # a "discrete stack" off by 0.5 at step 5
        actions, values, stacks = right(strings, size)
        stacks[:, 5, 0, 0] += 0.5  # the top slot's first channel
        return actions, values, stacks

    monkeypatch.setattr(stack_controls, "discrete_stacks", wrong_at_step_5)
    wrong = stack_controls.hard_stack_check(strings, stack_size=16)
    assert (
        wrong["largest_abs_diff"] == pytest.approx(0.5) and wrong["exact_strings"] == 3
    )  # three strings have no step 5
    assert statements.stack_correct(wrong, LOSSES).value is False


def test_discrete_stack_caps_at_its_size_and_ignores_pops_of_an_empty_stack():
    _, _, stacks = stack_controls.discrete_stacks([")((("], stack_size=2)
    assert stacks[0, 0].abs().sum() == 0  # pop of an empty stack
    assert stacks[0, -1, :, -1].tolist() == [1.0, 1.0]  # three pushes, two slots


# --- "spark.verifier.longer_training" --------------------------------------------------------


def test_longer_training_holds_when_a_task_rises_by_at_least_005():
    budget = {"validation": [0.80, 0.85, 0.90], "depth": [1.0, 1.0, 1.0]}
    m = statements.longer_training(budget, {"validation": [0.86, 0.90, 0.95], "depth": [1.0] * 3}, (1500, 6000))
    assert m.key == "spark.verifier.longer_training" and m.value is True and judged(m) == REPRODUCED
    small = statements.longer_training(budget, {"validation": [0.82, 0.87, 0.92], "depth": [1.0] * 3}, (1500, 6000))
    assert small.value is False and judged(small) == DIFFERS and "below the 0.05 needed" in small.reason
    assert small.details["room"]["validation"] == pytest.approx(0.15)


def test_longer_training_shows_the_chapters_runs_beside_without_deciding():
    budget, long = {"validation": [0.90, 0.92]}, {"validation": [0.91, 0.93]}
    m = statements.longer_training(budget, long, (1500, 6000), chapter={"validation": [0.80, 0.82]})
    assert m.value is False and "against the chapter's own runs" in m.reason
    assert m.details["rises_vs_chapter"]["validation"][0] == pytest.approx(0.11)


def test_longer_training_inputs_read_the_long_runs_within_and_against_the_chapter():
    def run(seed, acc, **extra):
        return {"language": 2, "seed": seed, "model": "verifier", "lr": 0.01, "test": acc, **extra}

    cfg = {"languages": [2], "seeds": [0, 1], "models": ["verifier"]}
    short = {
        "config": cfg | {"steps": 1500},
        "chosen_lr": {"2": {"verifier": 0.01}},
        "runs": [run(s, {"validation": 0.9, "depth": 1.0}) for s in (0, 1)],
    }
    long = {
        "config": cfg | {"steps": 6000},
        "chosen_lr": {"2": {"verifier": 0.01}},
        "runs": [run(0, {"validation": 0.97, "depth": 1.0}, test_at={"1500": {"validation": 0.95, "depth": 0.99}})],
    }
    got = experiments.longer_training_inputs(short, long)
    assert got["seeds"] == [0] and got["steps"] == (1500, 6000)
    assert got["budget"] == {"validation": [0.95], "depth": [0.99]} and got["long"]["validation"] == [0.97]
    assert got["chapter"]["validation"] == [0.9]


def test_verifier_long_command_trains_the_verifier_at_the_chapters_rate(monkeypatch, tmp_path):
    """``run verifier --verifier-long``: the verifier alone at 4x the budget, at the rate results.json
    chose (not tuned again), written to verifier_long.json, no weights saved."""
    import json

    import spark_edu.chapters.verifier.sweep as sweep
    from spark_edu.__main__ import main
    from spark_edu.chapters.verifier.models import VERIFIER_LONG, ExperimentConfig

    seen = []

    def fake(cfg, jobs, save_dir, on_progress=None, previous=None, lrs=None):
        seen.append((cfg, jobs, save_dir, lrs))
        return {"config": {"models": list(cfg.models)}, "runs": [], "provenance": {"wall_s": 1.0}}

    monkeypatch.setattr(sweep, "run_sweep", fake)
    monkeypatch.setattr(experiments, "summary", lambda results: [])
    argv = ["run", "verifier", "--verifier-long", "--jobs", "1", "--out", str(tmp_path)]
    monkeypatch.setattr("sys.argv", ["python -m spark_edu", *argv])
    assert main(argv) == 0
    assert seen == [(VERIFIER_LONG, 1, None, experiments.load_results()["chosen_lr"])]
    assert VERIFIER_LONG.models == ("verifier",) and VERIFIER_LONG.steps == 4 * ExperimentConfig().steps
    assert VERIFIER_LONG.seeds == ExperimentConfig().seeds
    saved = json.loads((tmp_path / "verifier_long.json").read_text())
    assert saved["provenance"]["command"].endswith("--verifier-long --jobs 1 --out " + str(tmp_path))
    assert not (tmp_path / "results.json").exists()


# --- reproduce routes each statement to its function ------------------------------------------


def test_reproduce_answers_each_statement_from_its_function(monkeypatch):
    seen = {}

    def fake(name):
        def f(*args):
            seen[name] = args
            return experiments.Measurement(f"spark.verifier.{name}", True)

        return f

    for name in ("underperforms", "stack_correct", "longer_training"):
        monkeypatch.setattr(statements, name, fake(name))
    cell = {"verifier": [1.0], "standard": [0.9]}
    monkeypatch.setattr(experiments, "run_sweep", lambda *a, **k: "sweep")
    monkeypatch.setattr(experiments, "measurements", lambda results: [])
    monkeypatch.setattr(
        experiments, "comparison_cells", lambda results: {(2, "depth"): cell} if results == "sweep" else 0
    )
    monkeypatch.setattr(stack_controls, "control_strings", lambda cfg: ["()"])
    monkeypatch.setattr(stack_controls, "stack_losses", lambda cfg: {"initial": 1.0, "trained": 0.0})
    monkeypatch.setattr(experiments, "load_long", lambda: "long")
    inputs = {
        "budget": {"depth": [0.9]},
        "long": {"depth": [1.0]},
        "steps": (1500, 6000),
        "seeds": [0],
        "chapter": {"depth": [0.8]},
    }
    monkeypatch.setattr(experiments, "longer_training_inputs", lambda results, long: inputs if long == "long" else 0)
    out = experiments.reproduce(quick=True)
    assert [m.key for m in out] == list(KEYS)
    assert seen["underperforms"] == ({(2, "depth"): cell},)
    assert seen["stack_correct"][0]["strings"] == 1 and seen["stack_correct"][1]["initial"] == 1.0
    assert seen["longer_training"] == (inputs["budget"], inputs["long"], (1500, 6000), inputs["chapter"])
