"""The modular report's two findings in words about routing, judged on the chapter's sweep.

* ``modular.moe.prevents_collapse`` — "Load balancing prevents expert collapse": per seed, the
  routed load of each expert on the held-out tokens (router choices, before any dropping); an
  expert is *collapsed* when its load is below a quarter of the fair share, ``1/(4E)``. The
  statement holds when some seed collapses without the balancing loss, none does with the
  Switch loss, and the loss lowers MaxVio ``E·max_e f_e − 1``: the per-seed difference
  (with − without) has a 95% Student-t interval over seeds below 0.
* ``modular.moe.specialisation_emerges`` — "Specialization emerges naturally during
  training": specialisation ``1 − H(category | expert) / log 8`` of each trained router minus
  that of the same router at step 0 (same seed, same initial weights), with a 95% interval over
  seeds above 0.

The two criterion functions take plain numbers keyed by seed; :func:`measure` reads them from
the sweep of :mod:`~spark_edu.chapters.moe.experiments` (``RunResult.metrics["load"]``,
``["max_violation"]``, ``["specialisation"]`` and ``RunResult.init_metrics``).
"""

from __future__ import annotations

from dataclasses import replace

from spark_edu.claims import Measurement
from spark_edu.measure import mean_interval

COLLAPSE_KEY = "modular.moe.prevents_collapse"
SPECIALISATION_KEY = "modular.moe.specialisation_emerges"
WITHOUT = "no aux loss"  # the sweep's setting without a balancing loss
WITH = "Switch α=0.01"  # the chapter's headline setting: the Switch loss at the paper's α


def collapsed_experts(load: list[float]) -> list[int]:
    """Indices of the experts whose routed load is below ``1/(4E)``, a quarter of the fair share."""
    floor = 1.0 / (4 * len(load))
    return [e for e, f in enumerate(load) if f < floor]


def _max_violation(load: list[float]) -> float:
    return len(load) * max(load) - 1.0  # eq-moe-maxvio, as spark_edu.moe.max_violation


def _paired(after: dict, before: dict) -> tuple[list, list[float]]:
    seeds = sorted(set(after) & set(before))
    if len(seeds) < 2:
        raise ValueError(f"a paired interval needs at least two shared seeds, got {seeds}")
    return seeds, [float(after[s]) - float(before[s]) for s in seeds]


def prevents_collapse(
    loads_without: dict[int, list[float]], loads_with: dict[int, list[float]], label_with: str = WITH
) -> Measurement:
    """Judge ``modular.moe.prevents_collapse`` from each seed's held-out routed load per expert."""
    col_without = {s: collapsed_experts(f) for s, f in loads_without.items()}
    col_with = {s: collapsed_experts(f) for s, f in loads_with.items()}
    seeds, diffs = _paired(
        {s: _max_violation(f) for s, f in loads_with.items()},
        {s: _max_violation(f) for s, f in loads_without.items()},
    )
    mean, low, high = mean_interval(diffs)
    some_without = any(col_without.values())
    none_with = not any(col_with.values())
    lowers = high < 0
    holds = some_without and none_with and lowers
    smallest = {
        name: min(min(f) for f in loads.values()) for name, loads in (("without", loads_without), ("with", loads_with))
    }
    E = len(next(iter(loads_without.values())))

    def seeds_collapsed(col):
        return [s for s, c in sorted(col.items()) if c]

    failed = [
        *([] if some_without else ["no seed collapses without the loss"]),
        *([] if none_with else [f"seeds {seeds_collapsed(col_with)} collapse with it"]),
        *([] if lowers else ["the MaxVio interval is not below 0"]),
    ]
    reason = (
        f"{len(seeds)} seeds; collapsed (load < 1/(4E) = {1 / (4 * E):.4f}): without the loss seeds "
        f"{seeds_collapsed(col_without) or 'none'} (smallest load {smallest['without']:.3f}), with {label_with} "
        f"{seeds_collapsed(col_with) or 'none'} (smallest {smallest['with']:.3f}); MaxVio with − without "
        f"{mean:+.3f} [{low:+.3f}, {high:+.3f}] (paired, 95% t interval over seeds); "
        + ("all three parts hold" if holds else "fails: " + "; ".join(failed))
    )
    details = {
        "seeds": seeds,
        "collapsed_without": {s: c for s, c in col_without.items()},
        "collapsed_with": {s: c for s, c in col_with.items()},
        "maxvio_difference": (mean, low, high),
        "maxvio_difference_per_seed": dict(zip(seeds, diffs)),
        "setting_with": label_with,
    }
    return Measurement(COLLAPSE_KEY, holds, reason=reason, details=details)


def specialisation_emerges(
    before: dict[int, float], after: dict[int, float], label: str = WITH, steps: int | None = None
) -> Measurement:
    """Judge ``modular.moe.specialisation_emerges`` from specialisation per seed at step 0 and after training."""
    seeds, diffs = _paired(after, before)
    mean, low, high = mean_interval(diffs)
    holds = low > 0
    trained = f"after {steps} steps" if steps is not None else "after training"
    reason = (
        f"{label}, {len(seeds)} seeds: specialisation at step 0 "
        f"{min(before[s] for s in seeds):.3f}–{max(before[s] for s in seeds):.3f}, {trained} "
        f"{min(after[s] for s in seeds):.3f}–{max(after[s] for s in seeds):.3f}; gain {mean:+.3f} "
        f"[{low:+.3f}, {high:+.3f}] (paired, 95% t interval over seeds), " + ("above 0" if holds else "not above 0")
    )
    details = {"seeds": seeds, "gain": (mean, low, high), "gain_per_seed": dict(zip(seeds, diffs)), "setting": label}
    return Measurement(SPECIALISATION_KEY, holds, reason=reason, details=details)


def measure(results: dict, without: str = WITHOUT, with_: str = WITH) -> list[Measurement]:
    """Both statements from a sweep ``{setting: [RunResult per seed]}``, judged on ``with_``; any other
    Switch setting of the sweep (α = 0.1) is measured the same way and shown beside, not judged."""
    by_seed = {name: {r.config.seed: r for r in runs} for name, runs in results.items()}

    def loads(name):
        return {s: r.metrics["load"] for s, r in by_seed[name].items()}

    trained = by_seed[with_]
    steps = next(iter(trained.values())).config.steps
    collapse = prevents_collapse(loads(without), loads(with_), with_)
    others = {
        name: prevents_collapse(loads(without), loads(name), name)
        for name in by_seed
        if name.startswith("Switch") and name != with_
    }
    if others:
        beside = "; ".join(
            f"{name}: MaxVio with − without {m.details['maxvio_difference'][0]:+.3f} "
            f"[{m.details['maxvio_difference'][1]:+.3f}, {m.details['maxvio_difference'][2]:+.3f}], "
            f"collapsed seeds {[s for s, c in sorted(m.details['collapsed_with'].items()) if c] or 'none'}"
            for name, m in others.items()
        )
        details = {**collapse.details, "beside": {name: m.details for name, m in others.items()}}
        collapse = replace(collapse, reason=f"{collapse.reason} (beside, not judged: {beside})", details=details)
    return [
        collapse,
        specialisation_emerges(
            {s: r.init_metrics["specialisation"] for s, r in trained.items()},
            {s: r.metrics["specialisation"] for s, r in trained.items()},
            with_,
            steps,
        ),
    ]
