"""The SPD router's wirings in the SPaR-K block, and the convergence study's bookkeeping.

The wirings are checked against the attention input rebuilt by hand from the block's own
modules; the study's scheduling, learning-rate choice, steps-to-accuracy, FK×SPD interaction
and the integration criterion against hand-made records whose answers are known.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import spark_edu.chapters.spark_model.convergence as convergence
from spark_edu.chapters.spark_model.analysis import (
    convergence_table,
    format_table,
    superseded,
    integration,
    interaction,
    loss_summary,
    paired,
    repeat_last_floor,
    stability,
    steps_to,
    steps_ratios,
)
from spark_edu.chapters.spark_model.convergence import Study, area, best_lr, run_study
from spark_edu.model import SPD_WIRINGS, SparkConfig, build, parameter_count, preset

TINY = preset("tiny")


def _attention_input(model, tokens):
    seen = []
    hook = model.blocks[0].attn.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    model(tokens)
    hook.remove()
    return seen[0]


@pytest.mark.parametrize("wiring", SPD_WIRINGS)
def test_attention_input_follows_the_wiring(wiring):
    model = build(preset("tiny", spd_wiring=wiring), 0)
    block = model.blocks[0]
    with torch.no_grad():  # a non-trivial final LayerNorm, so residual_ln is not the plain LN
        if block.spd_norm is not None:
            block.spd_norm.weight.uniform_(0.5, 1.5)
            block.spd_norm.bias.uniform_(-0.5, 0.5)
    tokens = torch.randint(0, TINY.vocab_size, (2, 9), generator=torch.Generator().manual_seed(1))
    x = model.tok_emb(tokens) + model.pos_emb(torch.arange(9))  # (B, T, C)
    a = F.layer_norm(x, (TINY.d_model,), block.ln1.weight, block.ln1.bias, block.ln1.eps)
    routed = block.spd(a)[0]
    expected = {
        "replace": routed,
        "residual": a + routed,
        "residual_ln": F.layer_norm(a + routed, (TINY.d_model,), block.spd_norm.weight, block.spd_norm.bias)
        if block.spd_norm is not None
        else None,
    }[wiring]
    torch.testing.assert_close(_attention_input(model, tokens), expected)


def test_default_wiring_is_the_original_and_residual_ln_adds_one_layernorm():
    assert SparkConfig().spd_wiring == "replace"
    base = parameter_count(TINY)
    assert parameter_count(preset("tiny", spd_wiring="residual")) == base
    assert parameter_count(preset("tiny", spd_wiring="residual_ln")) - base == 2 * TINY.d_model * TINY.n_layers
    with pytest.raises(ValueError, match="spd_wiring must be one of"):
        SparkConfig(spd_wiring="parallel")


@pytest.mark.parametrize("wiring", SPD_WIRINGS)
def test_causal_outputs_are_bitwise_unchanged_and_the_unmasked_model_leaks(wiring):
    tokens = torch.randint(0, TINY.vocab_size, (2, 10), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % TINY.vocab_size
    causal = build(preset("tiny", spd_wiring=wiring), 0)
    assert torch.equal(causal(changed)[:, :7], causal(tokens)[:, :7])  # exact zeros, no tolerance
    leaky = build(preset("tiny", spd_wiring=wiring, causal=False), 0)
    assert (leaky(changed)[:, :7] - leaky(tokens)[:, :7]).abs().max() > 0


def _record(name, seed, accs, lr=1e-3, every=10, losses=None):
    losses = losses or [1.0] * len(accs)
    curve = [
        {"step": i * every, "acc_predictable": a, "loss_predictable": lo, "loss": lo, "acc_other": 0.02}
        for i, (a, lo) in enumerate(zip(accs, losses))
    ]
    return {
        "label": name,
        "seed": seed,
        "lr": lr,
        "steps": every * (len(accs) - 1),
        "parameters": 1,
        "curve": curve,
        "grad_norm_max": 2.0,
        "grad_norm_median": 1.0,
        "finite": True,
        "fk_q_max": 0.3,
        "seconds_per_step": 0.01,
    }


def test_steps_to_accuracy_and_the_table():
    r = _record("none", 0, [0.0, 0.3, 0.6, 0.95, 0.97])
    assert steps_to(r, 0.5) == 20 and steps_to(r, 0.9) == 30 and steps_to(r, 0.99) is None
    assert area(r) == pytest.approx((0.0 + 0.3 + 0.6 + 0.95 + 0.97) / 5)
    study = {
        "study": {"names": ["none", "FK"]},
        "best_lr": {"none": 1e-3, "FK": 3e-3},
        "runs": [
            _record("none", 0, [0.0, 0.6, 0.95]),
            _record("none", 1, [0.0, 0.2, 0.92]),
            _record("FK", 0, [0.0, 0.1, 0.6], lr=3e-3),
            _record("FK", 1, [0.0, 0.0, 0.1], lr=3e-3),
            _record("FK", 1, [0.0, 0.0, 0.1], lr=3e-4),  # a rate no longer chosen: left out
        ],
    }
    table = convergence_table(study)
    assert table["none"]["steps_0.5"][0] == pytest.approx(15.0) and table["none"]["reached_0.9"] == 2
    assert table["FK"]["steps_0.5"] is None and table["FK"]["reached_0.5"] == 1
    assert table["FK"]["accuracy"][0] == pytest.approx(0.35)
    assert [(r["label"], r["lr"]) for r in superseded(study)] == [("FK", 3e-4)]
    falls = {**study, "runs": [_record("none", s, [0.0, 0.9, 0.5], every=100) for s in (0, 1)]}
    row = convergence_table(falls)["none"]  # memorising: the peak comes before the budget
    assert row["peak"][0] == pytest.approx(0.9) and row["peak_step"] == 100 and row["accuracy"][0] == 0.5
    shown = format_table(convergence_table(falls), 200, peak=True)
    assert "0.900 [0.900, 0.900]" in shown.rows[0] and "peak accuracy [95% CI]" in shown.columns


def test_best_lr_takes_the_largest_area_and_breaks_near_ties_by_loss():
    sweep = [
        _record("FK", 100, [0.0, 0.5, 0.9], lr=1e-3, losses=[3, 2, 1]),
        _record("FK", 100, [0.0, 0.5, 0.905], lr=3e-3, losses=[3, 3, 3]),  # within 0.01, higher loss
        _record("FK", 100, [0.0, 0.0, 0.1], lr=3e-4),
    ]
    assert best_lr(sweep) == 1e-3
    sweep[1] = _record("FK", 100, [0.0, 0.9, 0.95], lr=3e-3, losses=[3, 3, 3])  # clearly better
    assert best_lr(sweep) == 3e-3
    flat = [_record("FK", 100, [0.2, 0.05, 0.06], lr=lr, losses=[3, 3, 3 - lr]) for lr in (3e-4, 3e-3)]
    assert best_lr(flat, fallback=1e-3) == 1e-3  # no rate leaves chance after step 0: inconclusive


def _factorial(values: dict[str, list[float]]) -> dict:
    """A study whose runs have constant accuracy curves, so the area is the value itself."""
    runs = [_record(n, s, [v, v]) for n, vs in values.items() for s, v in enumerate(vs)]
    return {"study": {"names": list(values)}, "best_lr": dict.fromkeys(values, 1e-3), "runs": runs}


def test_interaction_is_the_difference_of_differences_paired_by_seed():
    study = _factorial(
        {"none": [0.9, 0.8, 0.85], "FK": [0.5, 0.4, 0.45], "SPD(res)": [0.9, 0.8, 0.9], "FK+SPD(res)": [0.2, 0.1, 0.2]}
    )
    out = interaction(study, "SPD(res)")
    per_seed = [(0.2 - 0.9) - (0.5 - 0.9), (0.1 - 0.8) - (0.4 - 0.8), (0.2 - 0.9) - (0.45 - 0.85)]
    assert out["interaction"][0] == pytest.approx(sum(per_seed) / 3)
    assert out["FK without SPD"][0] == pytest.approx(-0.4)
    assert paired(study, "FK", "missing") is None
    assert interaction(study, "SPD")["interaction"] is None  # the original wiring was not trained here


def test_integration_flags_a_component_whose_absence_helps():
    study = _factorial(
        {
            "FK+SPD+verifier": [0.1, 0.12, 0.11],
            "SPD+verifier": [0.9, 0.92, 0.91],  # without FK: far better -> FK conflicts
            "FK+verifier": [0.1, 0.13, 0.1],  # without SPD: the same -> SPD works
            "FK+SPD": [0.05, 0.06, 0.07],  # without the verifier: worse -> the verifier works
        }
    )
    out = integration(study, "FK+SPD+verifier")
    assert out["FK"]["works"] is False and out["SPD"]["works"] is True and out["verifier"]["works"] is True
    assert out["SPD"]["without"] == "FK+verifier"
    assert integration(_factorial({"FK+SPD+verifier": [0.1, 0.2]}))["FK"]["works"] is None
    assert out["FK"]["learners"] == [0, 3] and out["SPD"]["learners"] == [0, 0]  # seeds passing 0.5: full, without
    assert stability(study["runs"][:3])["stable"] is True and stability([])["stable"] is False


def test_run_study_sweeps_then_trains_seeds_and_resumes(monkeypatch, tmp_path):
    calls = []

    def fake(name, seed, lr, steps, every, n_test):  # the faster the rate, the better, for any name
        calls.append((name, seed, lr, steps))
        return _record(name, seed, [0.0, lr * 100, lr * 200], lr=lr, every=steps // 2)

    monkeypatch.setattr(convergence, "run_record", fake)
    study = Study(
        lrs=(1e-3, 3e-3), sweep_seeds=(100,), sweep_steps=4, seeds=(0, 1), steps=6, every=3, names=("none", "FK")
    )
    path = tmp_path / "c.json"
    out = run_study(study, path)
    assert out["best_lr"] == {"none": 3e-3, "FK": 3e-3} and out["complete"]
    assert len(out["sweep"]) == 4 and {(r["label"], r["seed"], r["lr"]) for r in out["runs"]} == {
        (n, s, 3e-3) for n in ("none", "FK") for s in (0, 1)
    }
    assert len(calls) == 8
    run_study(study, path, resume=True)
    assert len(calls) == 8  # nothing left to train
    with pytest.raises(ValueError, match="other settings"):
        run_study(Study(lrs=(1e-3,), names=("none",)), path, resume=True)
    rated = run_study(study, rates={"FK": 1e-3})
    assert not rated["sweep"] and {r["lr"] for r in rated["runs"]} == {1e-3} and len(rated["runs"]) == 2
    saved = []
    monkeypatch.setattr(convergence, "write_atomic", lambda p, text: saved.append(json.loads(text)))
    run_study(study, tmp_path / "again.json")  # every intermediate file says whether it is complete, truly
    flags = [s["complete"] for s in saved]
    first = flags.index(True)
    assert not any(flags[:first]) and all(flags[first:]) and len(saved[first]["runs"]) == 4


def test_long_study_command_writes_its_own_file(monkeypatch, tmp_path, capsys):
    """``run spark_model --convergence --long`` trains :data:`LONG_STUDY` into convergence_long.json,
    leaving the saved 500-step study alone, and records the command that made it."""
    from spark_edu.__main__ import main

    seen = []

    def fake_run_study(study, path, workers, resume):
        seen.append((study, path.name))
        return {"sweep": [], "runs": [], "seconds": 0.0, "best_lr": {}}

    monkeypatch.setattr(convergence, "run_study", fake_run_study)
    assert main(["run", "spark_model", "--convergence", "--long", "--out", str(tmp_path)]) == 0
    assert seen == [(convergence.LONG_STUDY, convergence.LONG_CONVERGENCE)]
    assert convergence.LONG_STUDY.steps >= 4 * Study().steps and set(convergence.LONG_STUDY.names) <= set(
        convergence.CONFIGS
    )
    with pytest.raises(SystemExit):
        main(["run", "spark_model", "--convergence", "--long", "--quick", "--out", str(tmp_path)])
    assert len(seen) == 1 and "choose one" in capsys.readouterr().err


def test_study_command_names_the_long_file(monkeypatch, tmp_path):
    monkeypatch.setattr(
        convergence,
        "run_record",
        lambda name, seed, lr, steps, every, n_test: _record(name, seed, [0.0, 0.5, 0.95], lr=lr, every=steps // 2),
    )
    tiny = Study(lrs=(1e-3,), sweep_steps=4, seeds=(0,), steps=4, every=2, names=("none",))
    assert run_study(tiny, tmp_path / convergence.LONG_CONVERGENCE)["command"].endswith("--convergence --long")
    assert run_study(tiny, tmp_path / convergence.CONVERGENCE)["command"].endswith("--convergence")


def test_repeat_last_floor_scores_the_held_out_set_the_runs_are_scored_on():
    from spark_edu.chapters.spark_model.training import RunConfig, datasets

    floors = repeat_last_floor((0, 1), n_test=200)
    _, test = datasets(1, RunConfig(n_test=200))  # the held-out set of seed 1's runs
    hits = (test.inputs == test.targets)[test.predictable].float().mean().item()
    assert floors[1] == pytest.approx(hits) and all(0.0625 <= f < 0.12 for f in floors)


def test_steps_ratios_pair_seeds_and_skip_the_ones_that_never_get_there():
    study = _factorial({})
    study["study"]["names"], study["best_lr"] = ["none", "FK"], {"none": 1e-3, "FK": 1e-3}
    study["runs"] = [
        _record("none", 0, [0.1, 0.6, 0.9]),  # 0.5 at step 10
        _record("none", 1, [0.1, 0.2, 0.7]),  # at step 20
        _record("none", 2, [0.1, 0.2, 0.7]),
        _record("FK", 0, [0.1, 0.2, 0.2, 0.55]),  # at step 30: 3x
        _record("FK", 1, [0.1, 0.2, 0.2, 0.2, 0.6]),  # at step 40: 2x
        _record("FK", 2, [0.1, 0.2]),  # never: left out
    ]
    assert steps_ratios(study, "FK", "none") == [3.0, 2.0]


def test_loss_summary_tells_memorising_from_frozen():
    import math

    frozen = math.log(48)  # a uniform guess among the 48 token ids
    runs = [_record("SPD", s, [0.07, 0.08], losses=[3.9, 4.5]) for s in (0, 1)]  # held-out loss rises
    runs += [_record("FK+SPD", s, [0.07, 0.07], losses=[3.9, 3.9]) for s in (0, 1)]
    for r, last in zip(runs, (3.0, 2.9, frozen, frozen - 0.2)):
        r["train_loss"] = [3.9, last]
    study = {"study": {"names": ["SPD", "FK+SPD"]}, "best_lr": {"SPD": 1e-3, "FK+SPD": 1e-3}, "runs": runs}
    out = loss_summary(study)
    assert out["SPD"]["train_end"][0] == pytest.approx(2.95) and out["SPD"]["held_end"][0] == pytest.approx(4.5)
    assert out["SPD"]["held_start"][0] == pytest.approx(3.9) and out["SPD"]["frozen"] == 0
    assert out["FK+SPD"]["frozen"] == 1 and out["FK+SPD"]["acc_start"][0] == pytest.approx(0.07)
