"""Analysis of the SPaR-K runs, and ``reproduce`` for the chapter's claims (spark.stats.*).

:func:`summarize` gives per-configuration means and 95% t-intervals over seeds,
:func:`component_effects` the paired on − off differences, :func:`training_stability` the
no-explosion check and :func:`gradients_reach_components` the share of each component's
parameters that one backward reaches. :func:`measurements` turns a full run (saved or fresh,
see :mod:`spark_edu.chapters.spark_model.runs`) into one Measurement per claim.
"""

from __future__ import annotations

import math
import statistics

import torch

from spark_edu.chapters.spark_model.runs import QUICK, STANDARD, FullRun, full_run, load_results
from spark_edu.chapters.spark_model.timings import COMPONENT_CHAPTERS, SUITES, components_improving, suite_seconds
from spark_edu.chapters.spark_model.training import label, next_token_loss
from spark_edu.claims import CLAIMS, Measurement
from spark_edu.measure import mean_interval
from spark_edu.model import COMPONENTS, SparkConfig, build, original_breakdown, preset

#: How :func:`reproduce` names the saved results it reads.
SAVED_SOURCE = "saved results of `python -m spark_edu run spark_model`"


def summarize(records: list[dict], metric: str = "acc_predictable") -> dict[str, tuple[float, float, float]]:
    """Per configuration label: mean and 95% interval over seeds of a final held-out metric."""
    groups: dict[str, list[float]] = {}
    for r in records:
        groups.setdefault(r["label"], []).append(r["final"][metric])
    bounds = (0.0, 1.0) if metric.startswith("acc") else (0.0, math.inf)
    return {k: mean_interval(v, *bounds) for k, v in groups.items()}


def component_effects(records: list[dict], metric: str = "acc_predictable") -> dict[str, tuple[float, float, float]]:
    """Per component: the mean over seeds and the other components' settings of (on − off), with its interval.

    Pairs are taken within a seed (same data, same batches), so the interval is over the
    per-seed mean differences.
    """
    by = {(tuple(sorted(r["components"])), r["seed"]): r["final"][metric] for r in records if r["label"] != STANDARD}
    seeds = sorted({s for _, s in by})
    effects = {}
    for comp in COMPONENTS:
        per_seed = []
        for s in seeds:
            diffs = [
                v - by[(tuple(sorted(set(k) - {comp})), s)]
                for (k, seed), v in by.items()
                if seed == s and comp in k and (tuple(sorted(set(k) - {comp})), s) in by
            ]
            if diffs:
                per_seed.append(statistics.fmean(diffs))
        if per_seed:
            effects[comp] = mean_interval(per_seed)
    return effects


def training_stability(records: list[dict]) -> dict[str, float | bool]:
    """No explosion: every loss and gradient norm finite, the largest pre-clipping gradient norm
    within 10× the run's median, and the FK series ratio q < 1 at every check."""
    ratios = [max(r["grad_norms"]) / statistics.median(r["grad_norms"]) for r in records]
    finite = all(math.isfinite(x) for r in records for x in r["losses"] + r["grad_norms"])
    qs = [b["q"] for r in records for b in r["fk_bounds"]]
    q_max = max(qs) if qs else float("nan")
    return {
        "finite": finite,
        "max_grad_ratio": max(ratios),
        "max_grad_norm": max(max(r["grad_norms"]) for r in records),
        "q_max": q_max,
        "stable": finite and max(ratios) <= 10 and (not qs or q_max < 1),
    }


def gradients_reach_components(config: SparkConfig = preset("original"), seed: int = 0) -> dict[str, float]:
    """One backward of :func:`next_token_loss` on a batch: the fraction of each component's
    parameters that receive a non-zero gradient (components the configuration uses)."""
    model = build(config, seed)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, config.vocab_size, (8, min(32, config.max_len) + 1), generator=g)  # (8, T+1)
    next_token_loss(model, tokens[:, :-1], tokens[:, 1:]).backward()
    parts = {
        "fk": [b.attn for b in model.blocks],
        "spd": [b.spd for b in model.blocks],
        "verifier": [b.verifier for b in model.blocks] + [b.verifier_out for b in model.blocks],
    }
    out = {}
    for comp in COMPONENTS:
        if config.uses(comp):
            params = [p for m in parts[comp] for p in m.parameters()]
            reached = sum(p.numel() for p in params if p.grad is not None and bool(p.grad.abs().sum() > 0))
            out[comp] = reached / sum(p.numel() for p in params)  # fraction of the component's parameters
    return out


def _timing_measurements(timings: dict | None, source: str) -> list[Measurement]:
    seconds = suite_seconds(timings or {})
    out = []
    for suite, key in (
        ("comprehensive", "spark.stats.eval_time_comprehensive"),
        ("quick", "spark.stats.eval_time_quick"),
    ):
        parts = " + ".join(COMPONENT_CHAPTERS[c] for c in SUITES[suite])
        if seconds[suite] is None:
            missing = [COMPONENT_CHAPTERS[c] for c in SUITES[suite] if c not in (timings or {})]
            reason = (
                "the component chapters were not timed in this run"
                if timings is None
                else f"not timed in this run: {missing}"
            )
            out.append(Measurement(key, None, as_stated=False, reason=reason))
            continue
        ratio = seconds[suite] / float(CLAIMS[key].claimed)
        out.append(
            Measurement(
                key,
                round(seconds[suite], 1),
                as_stated=False,
                reason=(
                    f"a different workload: the report timed its own evaluations; measured beside it, the book's own "
                    f"{parts} evaluations (each chapter's reproduce(quick=True), seeded), "
                    f"{timings[SUITES[suite][0]].get('threads', '?')} threads, {source}; "
                    f"ratio to the report: {ratio:.2f}"
                ),
                details={"ratio": ratio, "parts": {c: timings[c]["seconds"] for c in SUITES[suite]}},
            )
        )
    return out


def measurements(results: dict, source: str) -> list[Measurement]:
    """One Measurement per spark.stats.* claim from saved or fresh ``results`` (see :func:`full_run`)."""
    records = results["records"]
    config = preset("original")
    model = build(config, 0)
    ours = sum(p.numel() for p in model.parameters())
    full = [r for r in records if r["label"] == label(config)]
    stability = training_stability(full)
    overall = training_stability(records)
    worst = max(records, key=lambda r: max(r["grad_norms"]) / statistics.median(r["grad_norms"]))
    reach = gradients_reach_components(config)
    falls = all(r["final"]["loss"] < r["curve"][0]["loss"] for r in full)
    improving = components_improving(results.get("timings", {}))
    out = _timing_measurements(results.get("timings"), source)
    out.append(
        Measurement(
            "spark.stats.parameters",
            original_breakdown()["total"],
            reason=(
                f"the original's modules recounted from their shapes; this book's assembly of the same configuration "
                f"has {ours:,} (its verifier head is smaller, see the parameter table)"
            ),
            details={"ours": ours},
        )
    )
    built = "the original preset builds it so"
    out.append(Measurement("spark.stats.layers", len(model.blocks), by_construction=True, reason=built))
    out.append(Measurement("spark.stats.d_model", model.config.d_model, by_construction=True, reason=built))
    out.append(Measurement("spark.stats.heads", model.blocks[0].attn.n_heads, by_construction=True, reason=built))
    out.append(
        Measurement(
            "spark.stats.stable_training",
            stability["stable"],
            reason=(
                f"the SPaR-K preset, {len(full)} seeds, {source}: losses finite, largest pre-clipping gradient norm "
                f"{stability['max_grad_ratio']:.1f}× its run's median, "
                f"FK series ratio q ≤ {stability['q_max']:.3f} < 1; "
                f"over all {len(records)} ablation runs the largest spike is {overall['max_grad_ratio']:.0f}× "
                f"(configuration {worst['label']}, seed {worst['seed']}), absorbed by clipping at 1"
            ),
            details={"preset": stability, "all_runs": overall},
        )
    )
    acc = summarize(records)
    out.append(
        Measurement(
            "spark.stats.components_integrate",
            falls and stability["stable"] and min(reach.values()) > 0.8,
            as_stated=False,
            reason=(
                f"the original printed this line unconditionally (its status list [1, 1, 1, 1] is typed in); measured "
                f"here: gradient reaches {', '.join(f'{k} {v:.0%}' for k, v in reach.items())} of each component's "
                f"parameters and the held-out loss falls in every seed, yet on the predictable part the preset reaches "
                f"{acc[label(config)][0]:.3f} against {acc['none'][0]:.3f} with all three components off"
                if "none" in acc
                else "the original printed this line unconditionally"
            ),
            details={"reach": reach, "loss_falls": falls},
        )
    )
    if None in improving.values():
        missing = [COMPONENT_CHAPTERS[c] for c, v in improving.items() if v is None]
        out.append(
            Measurement(
                "spark.stats.components_improving",
                None,
                as_stated=False,
                reason=f"needs the measurements of {missing}, not available",
            )
        )
    else:
        count = sum(improving.values())
        which = ", ".join(c for c, v in improving.items() if v) or "none"
        out.append(
            Measurement(
                "spark.stats.components_improving",
                count,
                reason=(f"counted from the component chapters' measurements (interval above 0): {which}"),
                details=improving,
            )
        )
    order = [c.key for c in CLAIMS.values() if c.chapter == "spark_model"]
    return sorted(out, key=lambda m: order.index(m.key))


def reproduce(quick: bool = False) -> list[Measurement]:
    """The report's "Statistical Analysis" rows.

    ``quick=True`` reads the saved ``results.json`` (written by ``python -m spark_edu run
    spark_model``: the ablation and the component timings, which take minutes) when it
    exists, else trains the quick ablation without timings; ``quick=False`` runs the full
    ablation and times the component chapters now.
    """
    if quick:
        results = load_results()
        if results is not None:
            return measurements(results, SAVED_SOURCE)
        return measurements(full_run(QUICK, timings=False), "quick ablation run now")
    return measurements(full_run(FullRun()), "full run now")
