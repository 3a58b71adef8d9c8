"""The sparse-attention chapter's statements: each criterion judged from constructed numbers, a
case that holds and one that flips it, and ``reproduce`` routing every statement to its function."""

import pytest

from spark_edu.chapters.sparse_attention import bench, statements
from spark_edu.claims import CLAIMS, DIFFERS, NOT_AS_STATED, REPRODUCED, verdict

LENGTHS = [1024, 2048, 4096, 8192]


def judged(m):
    return verdict(CLAIMS[m.key], m)


def rounds(times, spread=0.02):
    """Three timing rounds per length around ``times`` (seconds)."""
    return [[t * (1 - spread), t, t * (1 + spread)] for t in times]


def power(exponent, base=1e-3):
    return [base * (n / LENGTHS[0]) ** exponent for n in LENGTHS]


def fastest(**fractions):
    """Benchmark summaries with the given fraction of a tile bound 2.0 reached."""
    return {p: {"path": "gathered", "ratio": 2.0 * f, "bound": 2.0, "sparsity": 0.7} for p, f in fractions.items()}


def test_local_balance_is_never_settled_as_stated_but_reports_the_front():
    acc = {"dense": [0.6, 0.7, 0.5], "local60": [0.99, 1.0, 1.0], "random80": [0.2, 0.25, 0.3]}
    ratio = {"dense": (1.0, 1.0, 1.0), "local60": (1.3, 1.2, 1.4), "random80": (1.5, 1.4, 1.6)}
    m = statements.local_balance(acc, ratio)
    assert m.key == "modular.finding.local_balance" and judged(m) == NOT_AS_STATED
    assert m.details["local_on_front"] and "on the accuracy–time front" in m.reason
    acc["dense"] = [1.0, 1.0, 1.0]  # dense as accurate and faster: local is dominated, still not as stated
    m = statements.local_balance(acc, ratio)
    assert judged(m) == NOT_AS_STATED and not m.details["local_on_front"] and "dominated by dense" in m.reason


def test_block_hardware_holds_only_when_block_leads_every_other_pattern():
    m = statements.block_hardware(fastest(dense=1.0, local60=0.5, block70=0.6, random80=0.4))
    assert m.key == "modular.finding.block_hardware" and judged(m) == REPRODUCED  # dense is not a sparse pattern
    m = statements.block_hardware(fastest(local60=0.53, block70=0.44, random80=0.66))
    assert judged(m) == DIFFERS and "the highest other: random80" in m.reason


def test_random_stability_needs_fewest_kept_and_largest_spread():
    kept = {"dense": 1.0, "local60": 0.4, "block70": 0.3, "random80": 0.2}
    steady, shaky = [1.0, 1.01, 0.99, 1.0, 1.02], [0.5, 1.5, 1.0, 2.0, 0.2]
    losses = {"dense": steady, "local60": steady, "block70": steady, "random80": shaky}
    assert judged(statements.random_stability(kept, losses)) == REPRODUCED
    m = statements.random_stability(kept, {**losses, "local60": shaky, "random80": steady})
    assert m.key == "modular.finding.random_stability" and judged(m) == DIFFERS and "local60's" in m.reason
    # the criterion compares the report's three patterns: a shakier dense model, shown beside, does not count
    m = statements.random_stability(kept, {**losses, "dense": [v * 3 for v in shaky]})
    assert judged(m) == REPRODUCED and "beside them dense" in m.reason and m.details["apart"]
    m = statements.random_stability({**kept, "block70": 0.1}, losses)  # random no longer keeps the fewest
    assert judged(m) == DIFFERS and "block70 keeps the fewest" in m.reason
    with pytest.raises(ValueError, match="5 seeds"):
        statements.random_stability(kept, {p: v[:4] for p, v in losses.items()})


def test_sd_interval_brackets_the_sample_sd():
    sd, low, high = statements.sd_interval([1.0, 2.0, 4.0, 3.0, 0.0, 2.5])
    assert low <= sd <= high and low < high


def test_complexity_dense_needs_an_exponent_near_two():
    m = statements.complexity_dense(LENGTHS, rounds(power(2.0)))
    assert m.key == "modular.complexity.dense" and judged(m) == REPRODUCED
    assert m.details["exponent"][0] == pytest.approx(2.0)
    assert judged(statements.complexity_dense(LENGTHS, rounds(power(1.5)))) == DIFFERS


def test_complexity_sparse_needs_time_proportional_to_kept_fraction():
    def points(b):
        s = {"local60": 0.6, "block70": 0.7, "random80": 0.8, "local90": 0.9}
        out = {
            p: {"path": "gathered", "ratio": 1 / (1 - x) ** b, "bound": 1 / (1 - x), "sparsity": x}
            for p, x in s.items()
        }
        return out | {"dense": {"path": "sdpa", "ratio": 1.0, "bound": 1.0, "sparsity": 0.0}}

    m = statements.complexity_sparse(points(1.0))
    assert m.key == "modular.complexity.sparse" and judged(m) == REPRODUCED
    assert m.details["b"] == pytest.approx(1.0) and m.details["b_with_dense"] == pytest.approx(1.0)
    assert judged(statements.complexity_sparse(points(0.45))) == DIFFERS
    with pytest.raises(ValueError, match="two sparsities"):
        statements.complexity_sparse({"block70": points(1.0)["block70"]})


def test_scaling_linear_needs_both_exponents():
    dense, linear = rounds(power(2.0)), rounds(power(1.05))
    m = statements.scaling_linear(LENGTHS, dense, linear, ["band"] * 4)
    assert m.key == "modular.scaling.linear" and judged(m) == REPRODUCED and "(band)" in m.reason
    assert judged(statements.scaling_linear(LENGTHS, dense, rounds(power(1.5)))) == DIFFERS
    assert judged(statements.scaling_linear(LENGTHS, rounds(power(1.6)), linear)) == DIFFERS


def test_scaling_memory_needs_a_growing_ratio():
    sparse = [10.0 * n / 1024 for n in LENGTHS]
    m = statements.scaling_memory(LENGTHS, [1.0 * (n / 1024) ** 2 for n in LENGTHS], sparse)
    assert m.key == "modular.scaling.memory" and judged(m) == REPRODUCED and m.details["slope"] == pytest.approx(1.0)
    m = statements.scaling_memory(
        LENGTHS, [1.0 * n / 1024 for n in LENGTHS], sparse, [50.0 * (n / 1024) ** 2 for n in LENGTHS]
    )
    assert judged(m) == DIFFERS and m.details["slope"] == pytest.approx(0.0)
    assert m.details["materialising_slope"] == pytest.approx(1.0) and "stores the scores" in m.reason


def test_longer_sequences_needs_a_lower_ratio_with_iqrs_apart():
    m = statements.longer_sequences((0.83, 0.80, 0.87), (0.60, 0.55, 0.65))
    assert m.key == "modular.tradeoff.longer_sequences" and judged(m) == REPRODUCED
    assert judged(statements.longer_sequences((0.83, 0.80, 0.87), (0.99, 0.97, 1.05))) == DIFFERS
    assert judged(statements.longer_sequences((0.83, 0.80, 0.87), (0.82, 0.78, 0.86))) == DIFFERS  # IQRs overlap


def _row(pattern, path, ratio, s, bound, length=4096):
    return bench.Row(length, pattern, path, s, s, bound, 1.0, 1.0, ratio, ratio / bound, None, 0.0, 0.0)


def test_fastest_by_pattern_skips_plain_sdpa_except_for_dense():
    rows = [
        _row("dense", "sdpa", 1.0, 0.0, 1.0),
        _row("block70", "sdpa", 1.0, 0.7, 3.3),
        _row("block70", "masked_sdpa", 0.7, 0.7, 3.3),
        _row("block70", "gathered", 1.5, 0.7, 3.3),
        _row("block70", "gathered", 9.0, 0.7, 3.3, length=1024),
    ]
    got = statements.fastest_by_pattern(rows, 4096)
    assert got["dense"]["path"] == "sdpa" and got["block70"] == {
        "path": "gathered",
        "ratio": 1.5,
        "bound": 3.3,
        "sparsity": 0.7,
    }


def test_reproduce_routes_every_statement_to_its_function(monkeypatch):
    from spark_edu.chapters.sparse_attention import experiments, fair_report
    from spark_edu.chapters.sparse_attention.memory import MemoryPoint

    rows = [_row("dense", "sdpa", 1.0, 0.0, 1.0), _row("dense", "gathered", 0.7, 0.0, 1.0)]
    for name, s in (("local60", 0.6), ("random80", 0.8), ("block70", 0.7)):
        rows += [_row(name, p, r, s, 2.0) for p, r in (("gathered", 1.2), ("sdpa", 1.0), ("flex", 0.9))]
    memory = [MemoryPoint(2048, s, 100.0, 5.0, 8.0, 9.0) for s in (0.5, 0.7, 0.8, 0.9)]
    point = lambda n: {  # noqa: E731
        "length": n,
        "seconds": {p: [1e-3 * n, 1e-3 * n] for p in ("sdpa", "band", "gathered", "grouped")},
        "peak_mb": {p: 1.0 for p in ("sdpa", "band", "gathered", "grouped")},
        "materialising_mb": 2.0,
    }
    scaling = {"config": {"window": 128}, "points": [point(n) for n in LENGTHS]}
    patterns = ("dense", "local60", "block70", "random80")
    seeds = {
        "study": {"patterns": list(patterns)},
        "kept": {"dense": 1.0, "local60": 0.4, "block70": 0.3, "random80": 0.2},
        "runs": [{"pattern": p, "seed": s, "accuracy": 0.5, "loss": 1.0 + 0.1 * s} for p in patterns for s in range(5)],
        "step_time": {p: {"ratio": [1.0, 1.0, 1.0]} for p in patterns},
    }
    called = []
    for name in ("local_balance", "block_hardware", "random_stability", "complexity_dense", "complexity_sparse",
                 "scaling_memory", "scaling_linear", "longer_sequences"):  # fmt: skip
        real = getattr(statements, name)
        monkeypatch.setattr(
            statements, name, lambda *a, real=real, name=name, **k: called.append(name) or real(*a, **k)
        )
    study, cost = fair_report.load_saved()
    out = experiments.reproduce(
        quick=True, bench_rows=rows, fair=(study, cost), memory=memory, scaling=scaling, seeds=seeds
    )
    keys = [m.key for m in out if CLAIMS[m.key].is_statement]
    assert len(called) == 8 and sorted(keys) == sorted(
        k for k, c in CLAIMS.items() if c.is_statement and c.chapter == "sparse_attention"
    )
    by_key = {m.key: m for m in out}
    assert by_key["modular.complexity.dense"].details["exponent"][0] == pytest.approx(1.0)  # the fake's linear time
    assert by_key["modular.finding.random_stability"].details["widest"] in patterns


def test_statement_fragments_lead_with_the_verdict():
    from spark_edu.chapters.sparse_attention.findings import statement_fragments

    ms = [
        statements.complexity_dense(LENGTHS, rounds(power(2.0))),
        statements.longer_sequences((0.83, 0.80, 0.87), (0.99, 0.97, 1.05)),
        statements.local_balance(
            {"dense": [0.5, 0.6], "local60": [1.0, 1.0]}, {"dense": (1, 1, 1), "local60": (1.3, 1.2, 1.4)}
        ),
    ]
    text = statement_fragments(ms)
    assert text["complexity_dense"].startswith("holds: time ∝ n^2.00")
    assert text["tradeoff_longer_sequences"].startswith("does not hold: sparse / dense step time 0.83×")
    assert text["finding_local_balance"].startswith("not settled as stated: held-out accuracy dense")
