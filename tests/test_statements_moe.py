"""The MoE chapter's statements: constructed loads and specialisations that make each criterion
hold and fail, and ``reproduce`` answering each statement from the sweep it is given."""

import pytest
import torch

from spark_edu.chapters.moe import experiments, statements
from spark_edu.chapters.moe.experiments import RunConfig, RunResult
from spark_edu.claims import DIFFERS, REPRODUCED, claims_for, compare

FAIR = [1 / 8] * 8


def _load(busiest: float, smallest: float | None = None) -> list[float]:
    """8 loads summing to 1: expert 0 takes ``busiest``, expert 7 ``smallest``, the rest share."""
    smallest = (1 - busiest) / 7 if smallest is None else smallest
    rest = (1 - busiest - smallest) / 6
    return [busiest, *[rest] * 6, smallest]


def test_collapsed_expert_means_below_a_quarter_of_the_fair_share():
    assert statements.collapsed_experts(FAIR) == []
    assert statements.collapsed_experts(_load(0.3, 0.0312)) == [7]  # 1/32 = 0.03125
    assert statements.collapsed_experts(_load(0.3, 0.0313)) == []


def test_prevents_collapse_holds_when_collapse_without_none_with_and_maxvio_lower():
    without = {0: _load(0.40, 0.0), 1: _load(0.35), 2: _load(0.38)}  # seed 0 has an idle expert
    with_ = {0: _load(0.15), 1: _load(0.16), 2: _load(0.14)}
    m = statements.prevents_collapse(without, with_)
    assert m.key == "modular.moe.prevents_collapse" and m.value is True
    mean, low, high = m.details["maxvio_difference"]
    assert high < 0 and mean == pytest.approx(8 * (0.15 + 0.16 + 0.14 - 0.40 - 0.35 - 0.38) / 3)
    assert "all three parts hold" in m.reason and "[0]" in m.reason


@pytest.mark.parametrize(
    "without, with_, failure",
    [
        # no seed collapses without the loss (the chapter's case)
        ({0: _load(0.40), 1: _load(0.35), 2: _load(0.38)}, {0: _load(0.15), 1: _load(0.16), 2: _load(0.14)},
         "no seed collapses without the loss"),
        # the loss leaves a collapsed expert in seed 2
        ({0: _load(0.40, 0.0), 1: _load(0.35), 2: _load(0.38)}, {0: _load(0.15), 1: _load(0.16), 2: _load(0.14, 0.01)},
         "seeds [2] collapse with it"),
        # MaxVio lower on average but not with a 95% interval below 0
        ({0: _load(0.40, 0.0), 1: _load(0.13), 2: _load(0.38)}, {0: _load(0.15), 1: _load(0.30), 2: _load(0.14)},
         "the MaxVio interval is not below 0"),
    ],
)  # fmt: skip
def test_prevents_collapse_fails_when_any_part_fails(without, with_, failure):
    m = statements.prevents_collapse(without, with_)
    assert m.value is False and failure in m.reason


def test_specialisation_emerges_flips_with_the_paired_interval():
    before = {0: 0.08, 1: 0.09, 2: 0.085}
    m = statements.specialisation_emerges(before, {0: 0.55, 1: 0.60, 2: 0.64}, steps=300)
    assert m.key == "modular.moe.specialisation_emerges" and m.value is True and "after 300 steps" in m.reason
    assert m.details["gain"][1] > 0
    noisy = statements.specialisation_emerges(before, {0: 0.50, 1: 0.05, 2: 0.30})  # mean up, interval spans 0
    assert noisy.value is False and noisy.details["gain"][0] > 0 > noisy.details["gain"][1]
    assert statements.specialisation_emerges(before, {0: 0.07, 1: 0.08, 2: 0.08}).value is False


def test_paired_needs_two_shared_seeds():
    with pytest.raises(ValueError, match="two shared seeds"):
        statements.specialisation_emerges({0: 0.1, 1: 0.1}, {1: 0.5, 2: 0.5})


def _fake(setting: str, seed: int, load: list[float], spec: float, spec0: float) -> RunResult:
    cfg = RunConfig(moe=experiments.SETTINGS[setting].moe, steps=300, seed=seed)
    metrics = {k: 0.5 for k in experiments.KEYS} | {"load": load, "specialisation": spec}
    init = {"specialisation": spec0}
    return RunResult(cfg, metrics, torch.ones(8, 8), torch.empty(0, 8), [], init)


def _fake_sweep(collapse: bool) -> dict:
    """3 seeds: without the loss the busiest expert takes 0.3 (seed 1's smallest none iff
    ``collapse``), with it about 0.2; specialisation 0.08 at step 0 and 0.6–0.62 after."""

    def load(name, s):
        if name == "no aux loss":
            return _load(0.3 + 0.01 * s, 0.0 if collapse and s == 1 else None)
        return _load(0.2 - 0.01 * s)

    return {
        name: [_fake(name, s, load(name, s), 0.6 + 0.01 * s, 0.08) for s in range(3)] for name in experiments.SETTINGS
    }


@pytest.mark.parametrize("collapse, verdict", [(True, REPRODUCED), (False, DIFFERS)])
def test_reproduce_answers_the_statements_from_the_sweep(collapse, verdict):
    out = experiments.reproduce(quick=True, results=_fake_sweep(collapse))
    assert [m.key for m in out] == [c.key for c in claims_for("moe")]
    table = {row.claim.key: row.verdict for row in compare(out).rows}
    assert table["modular.moe.prevents_collapse"] == verdict
    assert table["modular.moe.specialisation_emerges"] == REPRODUCED


def test_reproduce_routes_each_statement_to_its_function(monkeypatch):
    seen = {}

    def spy(name):
        real = getattr(statements, name)

        def wrapped(*args, **kwargs):
            seen.setdefault(name, args)  # the first call: the judged setting
            return real(*args, **kwargs)

        return wrapped

    for name in ("prevents_collapse", "specialisation_emerges"):
        monkeypatch.setattr(statements, name, spy(name))
    experiments.reproduce(quick=True, results=_fake_sweep(True))
    loads_without, loads_with, label = seen["prevents_collapse"]
    assert label == experiments.HEADLINE and loads_without[1] == _load(0.31, 0.0) and set(loads_with) == {0, 1, 2}
    before, after, _, steps = seen["specialisation_emerges"]
    assert before == {0: 0.08, 1: 0.08, 2: 0.08} and after[2] == pytest.approx(0.62) and steps == 300


def test_a_run_keeps_its_router_at_initialisation():
    result = experiments.run(RunConfig(steps=2, eval_tokens=256, batch_tokens=64))
    untrained = experiments.run(RunConfig(steps=0, eval_tokens=256))
    assert result.init_metrics["specialisation"] == pytest.approx(untrained.metrics["specialisation"])
    assert result.init_metrics["load"] == untrained.metrics["load"] and untrained.init_metrics is untrained.metrics
