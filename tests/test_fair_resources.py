"""The fair resource row: models, tasks, FLOPs, the study runner, the cost tool and the report.

Masks and the long-range task are checked element by element against brute-force counts; the
runner trains tiny real models (T = 64, 4 steps) and counts its calls of ``train``; the table
and claim functions run on hand-made records whose answers are known.
"""

from __future__ import annotations

import json

import pytest
import torch

import spark_edu.chapters.sparse_attention.fair_cost as fair_cost
import spark_edu.chapters.sparse_attention.fair_study as fair_study
from spark_edu.__main__ import main
from spark_edu.attention.blocks import BlockLayout
from spark_edu.chapters.sparse_attention.fair_flops import elements, step_flops, tile_elements
from spark_edu.chapters.sparse_attention.fair_report import (
    accuracy_ratio,
    claims,
    combine,
    cost_ratios,
    format_study_table,
    judged_pair,
    study_table,
)
from spark_edu.chapters.sparse_attention.fair_resources import (
    LEARNED_MODELS,
    MODELS,
    ROPE_MODELS,
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


@pytest.mark.parametrize("family", [LEARNED_MODELS, ROPE_MODELS], ids=["learned", "rotary"])
def test_models_share_parameter_count_and_initial_weights(family):
    models = [build_model(name, TINY, seed=3) for name in family]
    assert len({count_parameters(m) for m in models}) == 1
    states = [m.state_dict() for m in models]
    assert all(torch.equal(states[0][k], s[k]) for s in states[1:] for k in states[0])
    tokens = torch.randint(0, TINY.vocab_size, (2, TINY.length))
    assert all(m(tokens).shape == (2, TINY.length, TINY.vocab_size) for m in models)
    rotary = family == ROPE_MODELS
    assert all((m.pos_emb is None) == rotary and all(b.attn.rotary == rotary for b in m.blocks) for m in models)


@pytest.mark.parametrize("config", [TINY, ODD], ids=["T64", "T70"])
def test_sparse_rope_agrees_with_dense_rope_under_the_sparse_layouts_mask(config):
    """The sparse rotary model equals the dense rotary one computed with the layout as a mask."""
    sparse, dense = build_model("sparse_rope", config, 0).double(), build_model("dense_rope", config, 0).double()
    tokens = torch.randint(0, config.vocab_size, (2, config.length))
    mask = sparse_layout(config).dense()
    torch.testing.assert_close(sparse(tokens), dense(tokens, mask))


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
        "step_flops": 1000,
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
    # 2 tasks x (3 rates + 2 more seeds) runs x (500 steps + 26 evaluations of 0.2 s)
    assert worst_case_seconds(FairStudy(), step, 0.2) == pytest.approx(2 * 5 * (500 * 0.96 + 3 * 26 * 0.2))
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
    pairs = len(TASKS) * len(LEARNED_MODELS)
    assert len(calls) == 5 + pairs * 3 - 4 and out["complete"] and len(out["runs"]) == pairs * 3
    saved = json.loads(path.read_text())
    assert saved["command"] == "cmd" and saved["coverage"]["long_range"]["in_band"] == 0.0
    for task in TASKS:
        for model in LEARNED_MODELS:
            sweep = [r for r in saved["runs"] if (r["task"], r["model"], r["seed"]) == (task, model, 0)]
            lr = saved["best_lr"][f"{task}/{model}"]
            assert lr == pick_lr(sweep) and any(r["seed"] == 1 and r["lr"] == lr for r in saved["runs"])
    before = len(calls)
    run_study(TINY_STUDY, path, resume=True)
    assert len(calls) == before  # nothing left to train
    with pytest.raises(ValueError, match="other settings"):
        run_study(FairStudy(TINY, lrs=(1e-2,), steps=4), path, resume=True)


def _study(runs, steps=20, models=LEARNED_MODELS):
    best = {}
    for r in runs:
        best.setdefault(f"{r['task']}/{r['model']}", r["lr"])  # the first run's rate
    settings = {"tasks": list(TASKS), "models": list(models), "seeds": [0, 1, 2], "target": 0.95, "steps": steps}
    return {"study": settings | {"config": {"length": 1024, "vocab_size": 16}}, "best_lr": best, "runs": runs}


def _cost():
    row = lambda t, q1, q3, m, f: {  # noqa: E731
        "median_ms": 100 * t,
        "time_ratio": t,
        "time_ratio_iqr": [q1, q3],
        "peak_mb": 10 * m,
        "memory_ratio": m,
        "flops": {"attention": 100 * f, "total": 200 * f},
        "flops_ratio": f,
    }
    rows = {"dense": row(1.0, 1.0, 1.0, 1.0, 1.0), "dense_local": row(1.1, 1.0, 1.2, 1.2, 1.0)}
    rows["sparse"] = row(0.75, 0.7, 0.8, 1.5, 0.42)
    return {"batch": 8, "threads": 1, "rounds": 7, "lengths": {"1024": rows}}


def test_table_ratios_and_claims_on_hand_made_records():
    runs = []
    for seed in (0, 1, 2):
        runs.append(_record("local", "dense", seed, 3e-2, [0.06, 0.5, 0.96 if seed < 2 else 0.9, 0.97]))
        runs.append(_record("local", "sparse", seed, 1e-2, [0.06, 0.96]))  # stops at step 10
        runs.append(_record("local", "dense_local", seed, 1e-2, [0.06, 0.5, 0.5]))
        runs.append(_record("long_range", "dense", seed, 3e-2, [0.06, 0.06, 0.3]))
        runs.append(_record("long_range", "sparse", seed, 3e-2, [0.06, 0.1, 0.2]))
    runs.append(_record("local", "dense", 0, 1e-3, [0.06, 0.06, 0.06, 0.06]))  # a sweep run at another rate
    study = _study(runs, steps=30)
    rows = {(r["task"], r["model"]): r for r in study_table(study)}
    dense = rows[("local", "dense")]
    assert dense["steps"][0] == pytest.approx((20 + 20 + 30) / 3) and not dense["censored"] and dense["reached"] == 3
    local = rows[("local", "dense_local")]
    assert local["censored"] and local["reached"] == 0 and local["steps"][0] == 20
    assert rows[("local", "sparse")]["best"][0] == pytest.approx(0.96)
    ratio = accuracy_ratio(study, "local")  # at step 30: sparse keeps 0.96; dense 0.97 on every seed
    assert ratio["step"] == 30 and ratio["ratio"][0] == pytest.approx(0.96 / 0.97)
    assert accuracy_ratio(study, "long_range") is None
    assert cost_ratios(_cost())["sparse"] == {"time": (0.75, 0.7, 0.8), "memory": 1.5, "flops": 0.42}
    shown = repr(format_study_table(study, _cost()))
    assert "≥ 20 [20, 20]" in shown and "0/3" in shown and "0.75 [0.70, 0.80]" in shown
    memory, time, performance = claims(study, _cost())
    assert (memory.value, time.value, time.low, time.high) == (1.5, 0.75, 0.7, 0.8)
    assert (
        performance.value == pytest.approx(0.96 / 0.97) and "long_range: dense never reached it" in performance.reason
    )
    unconverged = [r for r in runs if (r["task"], r["model"]) != ("local", "dense")]
    unconverged += [_record("local", "dense", s, 3e-2, [0.06, 0.07]) for s in (0, 1, 2)]
    performance = claims(_study(unconverged), _cost())[2]
    assert performance.value is None and not performance.as_stated
    assert "dense never reached 95%" in performance.reason
    local_converged = [r for r in unconverged if (r["task"], r["model"]) != ("local", "dense_local")]
    local_converged += [_record("local", "dense_local", s, 1e-2, [0.06, 0.98]) for s in (0, 1, 2)]  # at step 10
    performance = claims(_study(local_converged), _cost())[2]  # dense_local is a side fact, not the baseline
    assert performance.value is None and "sparse 0.960 / 0.980 at step 10" in performance.reason
    cost = _cost()
    cost["lengths"]["1024"]["dense"]["materialising_peak_mb"] = 30.0  # sparse 15 MB: half of it
    assert "stores the score matrix (30 MB): 0.50x" in claims(study, cost)[0].reason


def test_combined_studies_are_judged_on_the_rotary_pair():
    learned = [_record(t, m, s, 1e-2, [0.06, 0.07]) for t in TASKS for m in LEARNED_MODELS for s in (0, 1, 2)]
    rope = []
    for seed in (0, 1, 2):
        rope.append(_record("local", "dense_rope", seed, 1e-2, [0.06, 0.97]))
        rope.append(_record("local", "sparse_rope", seed, 1e-2, [0.06, 0.99]))
        rope.append(_record("long_range", "dense_rope", seed, 1e-2, [0.06, 0.5, 0.98]))
        rope.append(_record("long_range", "sparse_rope", seed, 1e-2, [0.06, 0.2, 0.2]))
    study = combine(_study(learned), None, _study(rope, models=ROPE_MODELS))
    assert study["study"]["models"] == list(MODELS) and len(study["runs"]) == len(learned) + len(rope)
    cost = _cost()
    assert judged_pair(study, cost) == ("sparse", "dense")  # the cost file has no rotary rows yet
    rows = cost["lengths"]["1024"]
    rows["dense_rope"] = dict(rows["dense"])
    rows["sparse_rope"] = dict(rows["sparse"], time_ratio=0.6, memory_ratio=2.0)
    assert judged_pair(study, cost) == ("sparse_rope", "dense_rope")
    memory, time, performance = claims(study, cost)
    assert memory.value == 2.0 and time.value == 0.6 and "learned-position sparse / dense 0.75x" in time.reason
    assert performance.value == pytest.approx(0.99 / 0.97)
    assert "sparse_rope 0.990 / dense_rope 0.970" in performance.reason
    assert "long_range: sparse_rope / dense_rope 0.200 / 0.980 = 0.20 at step 20" in performance.reason
    with pytest.raises(ValueError, match="'steps' differs"):
        combine(_study(learned), _study(rope, steps=50, models=ROPE_MODELS))
    with pytest.raises(ValueError, match="different models"):
        combine(_study(learned), _study(learned))
    assert combine(None, None) is None


def test_cost_divides_each_model_by_its_dense_twin():
    assert [fair_cost.baseline(m) for m in MODELS] == ["dense", "dense", "dense", "dense_rope", "dense_rope"]
    with pytest.raises(ValueError, match="name must be one of"):
        fair_cost.baseline("alibi")


def test_accuracy_against_cost_figure_fits_the_column():
    import io

    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    from spark_edu.chapters.sparse_attention.figures import plot_accuracy_vs_cost
    from spark_edu.plots import DPI, MAX_WIDTH, png_bytes, tick_label_overlaps

    runs = [_record(t, m, s, 1e-2, [0.06, 0.5, 0.97]) for t in TASKS for m in LEARNED_MODELS for s in (0, 1, 2)]
    figure = plot_accuracy_vs_cost(_study(runs), _cost())
    assert len(figure.axes) == 4 and len(figure.axes[0].lines) == 3 * 3 + 2  # 3 seeds x 3 models, 2 guides
    dense, sparse = figure.axes[0].lines[0], figure.axes[0].lines[6]  # seconds: steps x the quiet step time
    assert dense.get_xdata()[-1] / sparse.get_xdata()[-1] == pytest.approx(1 / 0.75)
    assert figure.axes[1].lines[0].get_xdata()[-1] == runs[0]["curve"][-1]["step"] * runs[0]["step_flops"]
    elsewhere = _study(runs)
    elsewhere["study"]["config"]["length"] = 2048
    with pytest.raises(ValueError, match="length"):
        plot_accuracy_vs_cost(elsewhere, _cost())
    assert Image.open(io.BytesIO(png_bytes(figure))).size[0] / DPI <= MAX_WIDTH
    assert not tick_label_overlaps(figure)


def test_cost_measurement_on_a_tiny_config():
    cost = fair_cost.measure_costs(TINY, lengths=(64,), batch=2, rounds=2)
    rows = cost["lengths"]["64"]
    assert cost["threads"] == 1 and set(rows) == set(MODELS)
    assert rows["dense"]["time_ratio"] == 1.0 and rows["dense"]["memory_ratio"] == 1.0
    assert all(row["peak_mb"] > 0 and row["median_ms"] > 0 for row in rows.values())
    assert rows["sparse"]["flops_ratio"] < 1 and rows["dense_local"]["flops_ratio"] == 1.0
    assert rows["dense_rope"]["baseline"] == "dense_rope" and rows["dense_rope"]["time_ratio"] == 1.0
    assert rows["sparse_rope"]["baseline"] == "dense_rope" and rows["sparse_rope"]["flops_ratio"] < 1
    assert cost["cores"] >= 1 and rows["dense"]["materialising_peak_mb"] > rows["dense"]["peak_mb"]  # stores T x T


def test_the_command_line_records_its_command(monkeypatch, tmp_path):
    monkeypatch.setattr(fair_study, "run_record", lambda t, m, s, lr, spec: _record(t, m, s, lr, [0.1, 0.96]))
    assert main(["run", "sparse_attention", "--fair-resources", "--workers", "1", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "fair_resources.json").read_text())
    assert saved["command"] == "python -m spark_edu run sparse_attention --fair-resources" and saved["complete"]
    assert (
        main(["run", "sparse_attention", "--fair-resources", "--quick", "--steps", "20", "--out", str(tmp_path)]) == 0
    )
    quick = json.loads((tmp_path / "fair_resources_quick.json").read_text())
    assert quick["study"]["steps"] == 20 and quick["command"].endswith("--fair-resources --quick --steps 20")
    assert main(["run", "sparse_attention", "--fair-resources", "--rope", "--steps", "40", "--out", str(tmp_path)]) == 0
    rope = json.loads((tmp_path / "fair_resources_rope_40steps.json").read_text())  # beside, not over, the study
    assert rope["study"]["models"] == list(ROPE_MODELS) and rope["command"].endswith("--rope --steps 40")
    with pytest.raises(ValueError, match="steps"):
        fair_study.file_name(steps=0)
    assert fair_study.file_name(rope=True) == fair_study.ROPE_FILE and fair_study.file_name(quick=True, steps=9) == (
        fair_study.QUICK_FILE
    )
    real = fair_cost.measure_costs
    monkeypatch.setattr(fair_cost, "measure_costs", lambda **kw: real(TINY, **kw))
    argv = ["run", "sparse_attention", "--fair-cost", "--lengths", "64", "--rounds", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    cost = json.loads((tmp_path / "fair_cost.json").read_text())
    assert cost["command"].endswith("--fair-cost --lengths 64 --rounds 2 --threads 1")


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
        (lambda: cost_ratios(_cost(), 2048), "length"),
        (lambda: fair_cost.measure_costs(TINY, lengths=()), "lengths"),
    ],
)
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()
