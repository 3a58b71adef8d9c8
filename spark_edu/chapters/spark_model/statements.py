"""The report's "Statistical Analysis" statements, each judged by its criterion from measured numbers.

Pure functions, one per statement of :mod:`spark_edu.claims.statements` in this chapter; each
takes plain numbers (run summaries, intervals, per-run values) and returns a
:class:`~spark_edu.claims.Measurement` whose value is whether the criterion holds:

* :func:`stable_training` — every run of every configuration: losses finite, the largest
  pre-clipping gradient norm at most :data:`GRAD_RATIO_LIMIT` × its run's median;
* :func:`components_integrate` — leave-one-out of the report's model (from
  :func:`spark_edu.chapters.spark_model.analysis.integration`): no component whose absence makes
  the model learn significantly sooner;
* :func:`significance` — every component effect, as its chapter measures it, has a 95% interval
  over seeds that contains 0;
* :func:`reproducibility` — every run's headline number within its claim's tolerance of the
  runs' median.
"""

from __future__ import annotations

import statistics

from spark_edu.claims import CLAIMS, Measurement

GRAD_RATIO_LIMIT = 10.0  # the criterion's "at most 10× its run's median"


def _ratio(run: dict) -> float:
    return run["grad_norm_max"] / run["grad_norm_median"]


def stable_training(sources: dict[str, list[dict]]) -> Measurement:
    """``sources``: where the runs come from -> run summaries, each with ``label``, ``seed``, ``lr``,
    ``steps``, ``finite`` (every loss and gradient norm finite), ``grad_norm_max`` and
    ``grad_norm_median`` (pre-clipping norms over the run's steps)."""
    key = "spark.stats.stable_training"
    runs = [(source, r) for source, rs in sources.items() for r in rs]
    if not runs:
        return Measurement(key, None, as_stated=False, reason="no configuration was trained or saved")
    configs = sorted({r["label"] for _, r in runs})
    not_finite = [(s, r) for s, r in runs if not r["finite"]]
    over = [(s, r) for s, r in runs if _ratio(r) > GRAD_RATIO_LIMIT]
    worst_source, worst = max(runs, key=lambda sr: _ratio(sr[1]))
    per_config: dict[str, list[float]] = {}
    for _, r in over:
        per_config.setdefault(r["label"], []).append(_ratio(r))
    counted = "; ".join(f"{s}: {len(rs)} runs" for s, rs in sources.items())
    ranked = sorted(per_config.items(), key=lambda item: -max(item[1]))
    where = ", ".join(f"{c} ({len(v)} run{'s' * (len(v) > 1)}, up to {max(v):.0f}×)" for c, v in ranked) or "none"
    holds = not not_finite and not over
    reason = (
        f"{len(runs)} runs of {len(configs)} configurations ({counted}); losses and gradient norms finite in "
        f"{len(runs) - len(not_finite)} of {len(runs)}; largest pre-clipping gradient norm / its run's median: "
        f"{_ratio(worst):.1f}× ({worst['label']}, seed {worst['seed']}, lr {worst['lr']:g}, {worst_source}); "
        f"runs above {GRAD_RATIO_LIMIT:.0f}×: {len(over)}, in {len(per_config)} of {len(configs)} "
        f"configurations — {where}"
    )
    details = {
        "runs": len(runs),
        "configurations": configs,
        "not_finite": len(not_finite),
        "max_grad_ratio": _ratio(worst),
        "over_limit": {c: v for c, v in per_config.items()},
        "by_config": {c: max(_ratio(r) for _, r in runs if r["label"] == c) for c in configs},
    }
    return Measurement(key, holds, reason=reason, details=details)


def _integration_text(checks: dict) -> str:
    parts = []
    for comp, c in checks.items():
        if c["effect"] is None:
            parts.append(f"{comp}: not measured ({c['without']} not trained)")
            continue
        m, lo, hi = c["effect"]
        word = "works" if c["works"] else "conflicts"
        both_fail = " — both below 0.5 on every seed" if not any(c["learners"]) else ""
        parts.append(f"{comp} {word} (full − {c['without']}: {m:+.3f} [{lo:+.3f}, {hi:+.3f}]{both_fail})")
    return "; ".join(parts)


def components_integrate(studies: dict[str, dict], reach: dict[str, float] | None = None) -> Measurement:
    """``studies``: study name -> :func:`~spark_edu.chapters.spark_model.analysis.integration` of the
    report's model (component -> ``effect`` (mean, low, high) of full − without, ``works``, …).

    Does not hold when any study shows a conflict (an interval entirely below 0); holds when every
    component is measured in some study and none conflicts; otherwise it cannot be settled."""
    key = "spark.stats.components_integrate"
    conflicts = sorted({comp for checks in studies.values() for comp, c in checks.items() if c["works"] is False})
    components = {comp for checks in studies.values() for comp in checks}
    measured = {comp for checks in studies.values() for comp, c in checks.items() if c["works"] is not None}
    text = "; ".join(f"{name}: {_integration_text(checks)}" for name, checks in studies.items())
    if reach:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in reach.items())
        text += f"; gradient reaches {shares} of each component's parameters"
    details = {"studies": studies, "conflicts": conflicts, "reach": reach}
    if conflicts:
        return Measurement(key, False, reason=f"conflicts: {', '.join(conflicts)}. {text}", details=details)
    if not components or measured != components:
        missing = sorted(components - measured) or ["every component"]
        return Measurement(
            key, None, as_stated=False, reason=f"not measured for {', '.join(missing)}. {text}", details=details
        )
    return Measurement(key, True, reason=f"no conflict. {text}", details=details)


def interval_text(e: dict, spec: str = "+.3f") -> str:
    """``{"mean", "low", "high"}`` as "mean [low, high]" (each formatted with ``spec``)."""
    return f"{e['mean']:{spec}} [{e['low']:{spec}}, {e['high']:{spec}}]"


def _contains_zero(e: dict) -> bool:
    return e["low"] <= 0.0 <= e["high"]


def significance(effects: dict[str, dict[str, dict]]) -> Measurement:
    """``effects``: component effect -> cell -> ``{"mean", "low", "high", "seeds"}`` (95% interval over
    seeds, as the component's chapter measures it). Holds when every interval contains 0."""
    key = "spark.stats.significance"
    cells = [(what, cell, e) for what, by_cell in effects.items() for cell, e in by_cell.items()]
    if not cells:
        return Measurement(key, None, as_stated=False, reason="no component effect was measured")
    parts = []
    for what, by_cell in effects.items():
        apart = {c: e for c, e in by_cell.items() if not _contains_zero(e)}
        shown = apart or by_cell
        numbers = ", ".join(f"{c} {interval_text(e, '+.3g')}" for c, e in shown.items())
        seeds = sorted({e["seeds"] for e in by_cell.values()})
        parts.append(
            f"{what}: {len(apart)} of {len(by_cell)} cells with an interval apart from 0 "
            f"({'/'.join(map(str, seeds))} seeds){': ' + numbers if apart else ' — all contain 0: ' + numbers}"
        )
    significant = sum(not _contains_zero(e) for _, _, e in cells)
    holds = significant == 0
    head = "every effect's 95% interval contains 0" if holds else f"{significant} of {len(cells)} intervals exclude 0"
    details = {"effects": effects, "excluding_zero": significant, "intervals": len(cells)}
    return Measurement(key, holds, reason=f"{head}. " + "; ".join(parts), details=details)


def reproducibility(runs: dict[str, list[float]], tolerances: dict[str, float] | None = None) -> Measurement:
    """``runs``: claim key -> its headline number in each run (one per seed). Holds when every run lies
    within the claim's tolerance (``CLAIMS[key].tolerance`` unless ``tolerances`` gives it) of the
    runs' median."""
    key = "spark.stats.reproducibility"
    if not runs:
        return Measurement(key, None, as_stated=False, reason="the benchmarks were not run")
    rows, failing = {}, []
    for claim, values in runs.items():
        tol = (tolerances or {}).get(claim, CLAIMS[claim].tolerance)
        median = statistics.median(values)
        deviation = max(abs(v - median) for v in values)
        outside = sum(abs(v - median) > tol for v in values)
        rows[claim] = {"median": median, "min": min(values), "max": max(values), "deviation": deviation}
        rows[claim] |= {"tolerance": tol, "outside": outside, "runs": len(values)}
        if outside:
            failing.append(claim)

    def text(claim: str) -> str:
        r = rows[claim]
        return (
            f"{claim.removeprefix('spark.')} median {r['median']:.3g}, runs {r['min']:.3g} to {r['max']:.3g} "
            f"({r['outside']}/{r['runs']} beyond ±{r['tolerance']:g})"
        )

    n = sorted({r["runs"] for r in rows.values()})
    steady = [c.removeprefix("spark.") for c in runs if c not in failing]
    reason = (
        f"{'/'.join(map(str, n))} seeds; {len(failing)} of {len(runs)} headline numbers vary beyond their "
        f"tolerance: {'; '.join(text(c) for c in failing) or 'none'}; within it: {', '.join(steady) or 'none'}"
    )
    return Measurement(key, not failing, reason=reason, details={"numbers": rows, "failing": failing})
