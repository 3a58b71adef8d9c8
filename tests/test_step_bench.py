"""``bench spark``: the configuration, the output comparison, and one tiny run of a tree against itself."""

import argparse
from pathlib import Path

import pytest
import torch

import spark_edu
from spark_edu.chapters.spark_model.commands import COMMANDS
from spark_edu.chapters.spark_model.step_bench import StepBenchConfig, compare_checks, format_report, run_step_bench

TREE = str(Path(spark_edu.__file__).resolve().parent.parent)


def test_config_rejects_what_cannot_run(tmp_path):
    with pytest.raises(ValueError, match="not a source tree"):
        StepBenchConfig(str(tmp_path), TREE)
    with pytest.raises(ValueError, match="threads"):
        StepBenchConfig(TREE, TREE, threads=())
    with pytest.raises(ValueError, match="rounds"):
        StepBenchConfig(TREE, TREE, rounds=0)


def test_compare_checks_is_relative_to_each_tensor():
    a = {"w": torch.tensor([1.0, -4.0]), "b": torch.tensor([0.0, 0.0])}
    b = {"w": torch.tensor([1.0, -3.0]), "b": torch.tensor([0.0, 0.0])}
    check = {"initial": a, "loss": torch.tensor(2.0), "logits": a["w"], "grads": a, "after": a}
    other = {"initial": a, "loss": torch.tensor(2.0), "logits": b["w"], "grads": b, "after": a}
    assert compare_checks(check, other) == {
        "initial": 0.0,
        "loss": 0.0,
        "logits": 0.25,
        "grads": 0.25,  # |−4 − (−3)| / 4; the all-zero tensor counts 0, not NaN
        "after_3_steps": 0.0,
    }
    with pytest.raises(ValueError, match="differ in names"):
        compare_checks(check, {**other, "grads": {"w": b["w"]}})


def test_a_tree_against_itself_agrees_exactly_and_reports_every_part():
    config = StepBenchConfig(TREE, TREE, threads=(1,), rounds=2, steps=1, component_rounds=1, component_repeats=1)
    result = run_step_bench(config, progress=lambda text: None)
    assert set(result["agreement"].values()) == {0.0}  # same code, same seed, one thread: bitwise
    entry = result["threads"]["1"]
    assert entry["ratio"]["rounds"] == 2 and entry["ratio"]["threads"] == 1
    assert set(entry["components"]) == {"spd", "attn", "verifier", "mlp", "optimizer", "step"}
    assert len(entry["seconds"]["baseline"]) == len(entry["seconds"]["candidate"]) == 2
    assert "1 thread(s): step" in format_report(result)


def test_bench_command_needs_a_baseline_and_has_help():
    command = COMMANDS[("bench", "spark")]
    parser = argparse.ArgumentParser()
    command.configure(parser)
    assert all(action.help for action in parser._actions)
    with pytest.raises(SystemExit):
        parser.parse_args([])
    args = parser.parse_args(["--baseline-tree", TREE, "--threads", "1", "2", "--rounds", "3"])
    assert args.threads == [1, 2] and args.rounds == 3 and args.out.name == "step_bench.json"
