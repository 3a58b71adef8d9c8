"""The SPD router's statement "spark.spd.only_high_noise": judged from constructed per-level gains (the
verdict flipped by moving one level's interval across 0), the gains built from sweep records, and
reproduce routing the statement to its function."""

import math
import statistics

import pytest

from spark_edu.chapters.spd_router import experiments, statements
from spark_edu.chapters.spd_router.experiments import LMMSE_NAME, ROUTERS
from spark_edu.claims import DIFFERS, REPRODUCED, claims_for, compare


def level(gain, over=(0.5, 0.4, 0.6), seeds=5):
    return {"gain": list(gain), "over_lmmse": None if over is None else list(over), "seeds": seeds}


def test_only_high_noise_holds_when_exactly_the_high_levels_improve():
    up, flat = (2.0, 1.5, 2.5), (0.3, -0.2, 0.8)
    holds = statements.only_high_noise({0.1: level(flat), 0.3: level(flat), 0.5: level(up), 0.6: level(up)})
    assert holds.key == "spark.spd.only_high_noise" and holds.value is True
    assert "exactly the levels ≥ 0.5" in holds.reason and "σ 0.1: gain +0.30 dB [-0.20, +0.80]" in holds.reason
    everywhere = statements.only_high_noise({0.1: level(up), 0.3: level(flat), 0.5: level(up), 0.6: level(up)})
    assert everywhere.value is False and "improves (interval above 0) at σ 0.1, 0.5, 0.6, not only" in everywhere.reason
    missing = statements.only_high_noise({0.1: level(flat), 0.5: level(up), 0.6: level(flat)})
    assert missing.value is False and "not at every level ≥ 0.5" in missing.reason
    nowhere = statements.only_high_noise({0.1: level(flat), 0.5: level(flat)})
    assert nowhere.value is False
    edge = statements.only_high_noise({0.1: level(flat), 0.5: level((1.0, 0.0, 2.0))})  # low end at 0: not above
    assert edge.value is False
    assert [compare([m]).rows[0].verdict for m in (holds, everywhere)] == [REPRODUCED, DIFFERS]
    with pytest.raises(ValueError):
        statements.only_high_noise({})


def test_the_gain_over_the_linear_filter_is_shown_not_decided_on():
    up = (2.0, 1.5, 2.5)
    levels = {0.1: level(up, over=(-0.08, -0.13, -0.03)), 0.5: level(up, over=(0.7, 0.6, 0.8)), 0.6: level(up, None)}
    m = statements.only_high_noise(levels)
    assert m.value is False  # 0.1 improves over its input, whatever the LMMSE does
    assert "over LMMSE -0.08 dB [-0.13, -0.03]" in m.reason
    assert "beats the best linear filter at σ 0.5, falls below it at σ 0.1" in m.reason
    assert (m.details["beats_lmmse"], m.details["below_lmmse"]) == ([0.5], [0.1])


def _records(router_gain, lmmse_gain, levels=(0.1, 0.5)):
    """Sweep-shaped records: per level and seed, the router's and the LMMSE's SNR gain (plus a decoy router)."""
    out = []
    for i, lv in enumerate(levels):
        for seed, (r, b) in enumerate(zip(router_gain, lmmse_gain)):
            for method, g in ((ROUTERS[0], r + i), (ROUTERS[1], 99.0), (LMMSE_NAME, b + i)):
                out.append({"method": method, "noise": lv, "seed": seed, "snr_improvement": g, "correlation": 0.0})
    return out


def test_gains_by_level_are_the_learned_router_over_seeds_and_its_paired_gap_to_the_lmmse():
    router, lmmse = [1.0, 2.0, 4.0], [1.5, 1.5, 2.0]
    got = statements.gains_by_level(_records(router, lmmse))
    assert sorted(got) == [0.1, 0.5] and got[0.5]["seeds"] == 3
    half = 4.303 * statistics.stdev(router) / math.sqrt(3)  # 95% Student-t, 2 degrees of freedom
    assert got[0.1]["gain"] == pytest.approx([7 / 3, 7 / 3 - half, 7 / 3 + half])
    assert got[0.5]["gain"][0] == pytest.approx(10 / 3)
    gaps = [a - b for a, b in zip(router, lmmse)]
    half = 4.303 * statistics.stdev(gaps) / math.sqrt(3)
    mean = statistics.mean(gaps)
    assert got[0.1]["over_lmmse"] == pytest.approx([mean, mean - half, mean + half])  # paired by seed
    no_lmmse = [r for r in _records(router, lmmse) if r["method"] != LMMSE_NAME]
    assert statements.gains_by_level(no_lmmse)[0.1]["over_lmmse"] is None


def test_reproduce_routes_the_statement_to_its_function(monkeypatch):
    seen = {}
    records = _records([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], levels=experiments.NOISE_LEVELS)
    proto = {lv: {"correlation": [0.1], "snr_improvement": [-1.0]} for lv in experiments.NOISE_LEVELS}
    monkeypatch.setattr(experiments, "noise_sweep", lambda *args, **kwargs: records)
    monkeypatch.setattr(experiments, "prototype_table", lambda seeds: proto)

    def judge(levels):
        seen["levels"] = levels
        return statements.Measurement(statements.KEY, True, reason="routed")

    monkeypatch.setattr(statements, "only_high_noise", judge)
    got = {m.key: m for m in experiments.reproduce(quick=True)}
    assert set(got) == {c.key for c in claims_for("spd_router")}
    assert got["spark.spd.only_high_noise"].reason == "routed"
    assert seen["levels"] == statements.gains_by_level(records)


def test_saved_sweep_gives_the_chapter_verdict():
    """The shipped stationary sweep: the router gains over its input at every level, so not 'only ≥ 0.5'."""
    from spark_edu.chapters.spd_router.saved import load_results

    levels = statements.gains_by_level(load_results()["stationary"]["records"])
    assert all(m["gain"][1] > 0 for m in levels.values())
    assert statements.only_high_noise(levels).value is False
