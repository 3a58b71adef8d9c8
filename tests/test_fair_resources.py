"""The fair resource row: models, tasks, FLOPs and the study runner.

Masks and the long-range task are checked element by element against brute-force counts; the
runner trains tiny real models (T = 64, 4 steps) and counts its calls of ``train``.
"""

from __future__ import annotations

import json

import pytest
import torch

import spark_edu.chapters.sparse_attention.fair_study as fair_study
from spark_edu.attention.blocks import BlockLayout
from spark_edu.chapters.sparse_attention.fair_flops import elements, step_flops, tile_elements
from spark_edu.chapters.sparse_attention.fair_resources import (
    MODELS,
    TASKS,
    FairConfig,
    MaskedSelfAttention,
    band_mask,
    build_model,
    lag,
    needed_key_coverage,
    sparse_layout,
    task_config,
)
from spark_edu.chapters.sparse_attention.fair_study import (
    QUICK_STUDY,
    FairStudy,
    pick_lr,
    run_record,
    run_study,
    worst_case_seconds,
)
from spark_edu.transformer import count_parameters

TINY = FairConfig(length=64, block_size=4)
ODD = FairConfig(length=70, block_size=4)  # 70 is not a multiple of the tile size


def _tile_band(config: FairConfig) -> torch.Tensor:
    i = torch.arange(config.length)
    return (i[:, None] // config.block_size - i[None, :] // config.block_size).abs() <= config.band


@pytest.mark.parametrize("config", [TINY, ODD], ids=["T64", "T70"])
def test_dense_local_mask_is_the_sparse_layouts_band(config):
    band, sparse = band_mask(config), sparse_layout(config).dense()
    assert torch.equal(band, _tile_band(config))
    assert torch.equal(band, sparse & _tile_band(config))  # the sparse layout keeps every band tile
    assert int(sparse.sum()) > int(band.sum())  # and random tiles beyond it
    local = build_model("dense_local", config, 0)
    assert all(torch.equal(block.attn.mask, band) for block in local.blocks)


def test_models_share_parameter_count_and_initial_weights():
    models = [build_model(name, TINY, seed=3) for name in MODELS]
    assert len({count_parameters(m) for m in models}) == 1
    states = [m.state_dict() for m in models]
    assert all(torch.equal(states[0][k], s[k]) for s in states[1:] for k in states[0])
    tokens = torch.randint(0, TINY.vocab_size, (2, TINY.length))
    assert all(m(tokens).shape == (2, TINY.length, TINY.vocab_size) for m in models)


@pytest.mark.parametrize("config", [TINY, ODD, FairConfig()], ids=["T64", "T70", "T1024"])
def test_long_range_needed_key_is_outside_the_band_and_coverage_matches_a_brute_force_count(config):
    band, sparse = band_mask(config).float(), sparse_layout(config).dense()
    relay = (band @ band) > 0  # what n_layers = 2 band layers can carry to a query
    for task in TASKS:
        shift = lag(task, config)
        i = torch.arange(shift, config.length)
        needed = (i, i - shift)
        kept, in_band = sparse[needed], band.bool()[needed]
        if task == "local":
            assert bool(in_band.all())
        else:
            assert not bool(in_band.any()) and not bool(relay[needed].any())
        coverage = needed_key_coverage(config, task)
        n = len(i)
        assert coverage["queries"] == n and coverage["lag"] == shift
        assert coverage["in_band"] == int(in_band.sum()) / n
        assert coverage["random_tile"] == int((kept & ~in_band).sum()) / n
        assert coverage["dropped"] == int((~kept).sum()) / n
        two = ((sparse.float() @ sparse.float()) > 0)[needed]
        assert coverage["two_layers"] == int(two.sum()) / n
    assert lag("long_range", FairConfig()) == 48 and lag("local", FairConfig()) == 8


def test_flops_against_a_hand_count():
    tiles = torch.tensor([[1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=torch.bool)  # 10 positions, tiles of 4
    mask = tiles.repeat_interleave(4, 0).repeat_interleave(4, 1)[:10, :10]
    assert tile_elements(BlockLayout.from_mask(mask, 4)) == 4 * 4 + 4 * 2 + 4 * 4 + 2 * 2  # = 44
    config = FairConfig(length=8, block_size=4, sparsity=0.25)  # D = 16, H = 4, 2 layers, C = 64, V = 16
    dense = step_flops("dense", config, batch=2)
    assert dense["attention"] == 3 * 4 * 16 * 64 * 4 * 2 * 2
    assert dense["linear"] == 3 * 2 * 2 * 8 * (2 * (4 * 64 * 64 + 2 * 64 * 256) + 64 * 16)
    assert dense["total"] == dense["attention"] + dense["linear"]
    assert elements("dense_local", TINY) == (64 * 64, int(band_mask(TINY).sum()))
    kept = int(sparse_layout(ODD).dense().sum())
    assert elements("sparse", ODD) == (kept, kept)
    assert step_flops("dense_local", TINY, 2)["total"] == step_flops("dense", TINY, 2)["total"]


def _record(task, model, seed, lr, accs, every=10, budget=None, target=0.95, ms=10.0):
    curve = [
        {"step": i * every, "accuracy": a, "seconds": 0.1 * i, "flops": 1000 * i * every} for i, a in enumerate(accs)
    ]
    reached = next((p["step"] for p in curve if p["accuracy"] >= target), None)
    return {
        "task": task,
        "model": model,
        "seed": seed,
        "lr": lr,
        "budget": budget or every * (len(accs) - 1),
        "steps": curve[-1]["step"],
        "steps_to_target": reached,
        "best_accuracy": max(accs),
        "final_accuracy": accs[-1],
        "curve": curve,
        "step_seconds_median": ms / 1e3,
    }


def test_pick_lr_takes_the_soonest_to_target_else_the_best():
    sweep = [
        _record("local", "sparse", 0, 1e-2, [0.1, 0.96]),  # reached at 10
        _record("local", "sparse", 0, 3e-2, [0.1, 0.5, 0.99]),  # reached at 20, higher best
        _record("local", "sparse", 0, 3e-3, [0.1, 0.5, 0.6]),
    ]
    assert pick_lr(sweep) == 1e-2
    sweep.append(_record("local", "sparse", 0, 1e-1, [0.1, 0.97]))  # also at 10, higher best
    assert pick_lr(sweep) == 1e-1
    never = [_record("local", "dense", 0, lr, [0.1, acc]) for lr, acc in ((1e-2, 0.3), (3e-2, 0.3), (3e-3, 0.2))]
    assert pick_lr(never) == 1e-2  # best accuracy, ties to the lower rate
    with pytest.raises(ValueError, match="sweep"):
        pick_lr([])


def test_worst_case_cost_multiplies_out():
    step = {"dense": 0.34, "dense_local": 0.36, "sparse": 0.26}
    # 2 tasks x (3 rates + 2 more seeds) runs x (240 steps + 13 evaluations of 0.2 s)
    assert worst_case_seconds(FairStudy(), step, 0.2) == pytest.approx(2 * 5 * (240 * 0.96 + 3 * 13 * 0.2))
    assert worst_case_seconds(QUICK_STUDY, step, 0.0) == pytest.approx(2 * 3 * 30 * 0.96)
    with pytest.raises(ValueError, match="step_seconds"):
        worst_case_seconds(FairStudy(), {"dense": 1.0}, 0.0)


TINY_STUDY = FairStudy(TINY, lrs=(1e-2, 3e-2), seeds=(0, 1), steps=4, every=2, batch=2, n_test=2)


def test_run_record_stops_at_the_target_and_records_its_curve(monkeypatch):
    scores = iter([0.0, 0.5, 0.97, 0.99])
    monkeypatch.setattr(fair_study, "accuracy", lambda logits, targets: next(scores))
    record = run_record("local", "sparse", 0, 1e-2, FairStudy(TINY, steps=8, every=2, batch=2, n_test=2))
    assert [p["step"] for p in record["curve"]] == [0, 2, 4] and record["steps"] == 4
    assert record["steps_to_target"] == 4 and record["best_accuracy"] == 0.97 and record["budget"] == 8
    assert record["curve"][2]["flops"] == 4 * record["step_flops"] and record["curve"][2]["seconds"] > 0
    assert record["threads"] == 1 and record["step_seconds_median"] > 0


def test_run_study_writes_resumes_and_picks_the_rate_by_the_rule(monkeypatch, tmp_path):
    calls = []
    real_train = fair_study.train

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5 and not resumed:  # the study is interrupted during its fifth run
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(fair_study, "train", counted)
    path, resumed = tmp_path / "fair.json", False
    with pytest.raises(KeyboardInterrupt):
        run_study(TINY_STUDY, path, command="cmd")
    assert len(json.loads(path.read_text())["runs"]) == 4  # saved after every run
    resumed = True
    out = run_study(TINY_STUDY, path, resume=True, command="cmd")
    pairs = len(TASKS) * len(MODELS)
    assert len(calls) == 5 + pairs * 3 - 4 and out["complete"] and len(out["runs"]) == pairs * 3
    saved = json.loads(path.read_text())
    assert saved["command"] == "cmd" and saved["coverage"]["long_range"]["in_band"] == 0.0
    for task in TASKS:
        for model in MODELS:
            sweep = [r for r in saved["runs"] if (r["task"], r["model"], r["seed"]) == (task, model, 0)]
            lr = saved["best_lr"][f"{task}/{model}"]
            assert lr == pick_lr(sweep) and any(r["seed"] == 1 and r["lr"] == lr for r in saved["runs"])
    before = len(calls)
    run_study(TINY_STUDY, path, resume=True)
    assert len(calls) == before  # nothing left to train
    with pytest.raises(ValueError, match="other settings"):
        run_study(FairStudy(TINY, lrs=(1e-2,), steps=4), path, resume=True)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: FairConfig(band=-1), "band"),
        (lambda: FairConfig(sparsity=1.0), "sparsity"),
        (lambda: build_model("nope", TINY, 0), "name"),
        (lambda: lag("nope", TINY), "task"),
        (lambda: task_config("long_range", FairConfig(length=40, block_size=16), 1), "lag"),
        (lambda: FairStudy(lrs=()), "lrs"),
        (lambda: FairStudy(seeds=(0, 0)), "seeds"),
        (lambda: FairStudy(models=("dense", "nope")), "models"),
        (lambda: FairStudy(target=1.5), "target"),
        (lambda: run_study(TINY_STUDY, workers=0), "workers"),
        (lambda: step_flops("sparse", TINY, 0), "batch"),
        (lambda: MaskedSelfAttention(64, 4, torch.ones(4, 4)), "mask"),
    ],
)
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()
