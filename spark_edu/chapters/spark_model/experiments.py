"""Analysis of the SPaR-K runs, and ``reproduce`` for the chapter's claims (spark.stats.*).

:func:`summarize` gives per-configuration means and 95% t-intervals over seeds of the saved
300-step ablation (``results.json``), :func:`gradients_reach_components` the share of each
component's parameters that one backward reaches, :func:`attention_input_scales` what the SPD
router's wiring does to the attention's input at initialisation. :func:`measurements` turns the
convergence studies (:mod:`spark_edu.chapters.spark_model.convergence`, saved or fresh), the
component timings, the component effects (:mod:`~spark_edu.chapters.spark_model.effects`) and the
seeded prototype runs (:mod:`~spark_edu.chapters.spark_model.reproducibility`) into one Measurement
per claim, the statements judged by :mod:`~spark_edu.chapters.spark_model.statements`.
"""

from __future__ import annotations

import math

import torch

from spark_edu.chapters.spark_model import statements
from spark_edu.chapters.spark_model.analysis import integration, run_summary
from spark_edu.chapters.spark_model.convergence import LONG_CONVERGENCE, QUICK_STUDY, Study, load_study, run_study
from spark_edu.chapters.spark_model.effects import component_effects
from spark_edu.chapters.spark_model.reproducibility import load_reproducibility, run_reproducibility
from spark_edu.chapters.spark_model.runs import load_results
from spark_edu.chapters.spark_model.timings import (
    COMPONENT_CHAPTERS,
    SUITES,
    component_timings,
    components_improving,
    suite_seconds,
)
from spark_edu.chapters.spark_model.training import RunConfig, datasets, next_token_loss
from spark_edu.claims import CLAIMS, Measurement
from spark_edu.measure import mean_interval
from spark_edu.model import COMPONENTS, SparkConfig, build, original_breakdown, preset
from spark_edu.results import data_dir

#: How :func:`reproduce` names the saved results it reads.
SAVED_SOURCE = "saved results of `python -m spark_edu run spark_model`"


def summarize(records: list[dict], metric: str = "acc_predictable") -> dict[str, tuple[float, float, float]]:
    """Per configuration label: mean and 95% interval over seeds of a final held-out metric."""
    groups: dict[str, list[float]] = {}
    for r in records:
        groups.setdefault(r["label"], []).append(r["final"][metric])
    bounds = (0.0, 1.0) if metric.startswith("acc") else (0.0, math.inf)
    return {k: mean_interval(v, *bounds) for k, v in groups.items()}


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


@torch.no_grad()
def attention_input_scales(wiring: str, seed: int = 0, batch: int = 8) -> dict[str, float]:
    """At initialisation, in the first block of the original preset with the router wired as
    ``wiring``: the standard deviation of LN₁(x), of the router's output, of the attention's input,
    and of the queries computed from that input and from LN₁(x) itself (training sequences)."""
    model = build(preset("original", spd_wiring=wiring), seed)
    tokens = datasets(seed, RunConfig(n_test=1))[0].inputs[:batch]  # (batch, T)
    block, seen = model.blocks[0], {}

    def keep(name: str, value: torch.Tensor) -> None:  # a hook returning None leaves the forward as it is
        seen.setdefault(name, value)

    hooks = [
        block.ln1.register_forward_hook(lambda m, args, out: keep("ln1", out)),
        block.spd.register_forward_hook(lambda m, args, out: keep("router", out[0])),
        block.attn.register_forward_pre_hook(lambda m, args: keep("attention_input", args[0])),
    ]
    try:
        model(tokens)
    finally:
        for h in hooks:
            h.remove()
    out = {k: float(v.std()) for k, v in seen.items()}
    out["queries"] = float(block.attn.q_proj(seen["attention_input"]).std())
    out["queries_from_ln1"] = float(block.attn.q_proj(seen["ln1"]).std())
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


#: The model of the report (the router replaces LN₁(x)), and the one with the router as a residual.
FULL, FULL_RESIDUAL = "FK+SPD+verifier", "FK+SPD(res)+verifier"
#: What the full-mode reproduce trains (the saved study's best rates, fewer seeds): the two full
#: models and what the integration criterion compares them with.
REDUCED = Study(seeds=(0, 1, 2), names=(FULL, "FK+SPD", "FK+verifier", "SPD+verifier"))


def _ablation_runs(records: list[dict], steps: int) -> list[dict]:
    """The saved ablation's records (every step kept) as the run summaries the study saves."""
    lr = RunConfig().lr
    return [{**run_summary(r), "label": r["label"], "seed": r["seed"], "lr": lr, "steps": steps} for r in records]


def training_sources(studies: dict[str, dict], ablation: dict | None = None) -> dict[str, list[dict]]:
    """Every run the chapter trained, by where it comes from: each study's sweep and seed runs and
    the saved 300-step ablation (``results.json``), for :func:`statements.stable_training`."""
    sources = {name: study["sweep"] + study["runs"] for name, study in studies.items()}
    if ablation:
        steps = ablation["spec"]["run"]["steps"]
        sources[f"saved ablation (results.json), {steps} steps"] = _ablation_runs(ablation["records"], steps)
    return {name: runs for name, runs in sources.items() if runs}


def measurements(
    timings: dict | None,
    study: dict,
    source: str,
    ablation: dict | None = None,
    *,
    study_name: str | None = None,
    long_study: dict | None = None,
    trained: dict[str, dict] | None = None,
    effects: dict | None = None,
    repro: dict | None = None,
) -> list[Measurement]:
    """One Measurement per spark.stats.* claim from the component ``timings`` (see
    :func:`spark_edu.chapters.spark_model.timings.component_timings`), a convergence ``study``
    (and the ``long_study``, where saved), the saved ``ablation`` (``results.json``), the component
    ``effects`` (:func:`~spark_edu.chapters.spark_model.effects.component_effects`) and the seeded
    prototype runs ``repro`` (:func:`~spark_edu.chapters.spark_model.reproducibility.run_reproducibility`).

    Training stability reads ``trained`` (name -> study; default: ``study`` and ``long_study``)
    and the ablation; components integrate reads ``study`` (named ``study_name``, default
    ``source``) and ``long_study``."""
    config = preset("original")
    model = build(config, 0)
    ours = sum(p.numel() for p in model.parameters())
    studies = {f"{study_name or source}, {study['study']['steps']} steps": study}
    if long_study is not None:
        studies[f"saved long study (convergence_long.json), {long_study['study']['steps']} steps"] = long_study
    reach = gradients_reach_components(config)
    improving = components_improving(timings or {})
    out = _timing_measurements(timings, source)
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
    out.append(statements.stable_training(training_sources(studies if trained is None else trained, ablation)))
    out.append(statements.components_integrate({n: integration(s, FULL) for n, s in studies.items()}, reach))
    out.append(statements.significance(effects or {}))
    out.append(statements.reproducibility(repro["runs"] if repro else {}))
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

    ``quick=True`` reads the saved convergence studies (``convergence.json``,
    ``convergence_long.json``), the saved ablation and component timings (``results.json``) and the
    seeded prototype runs (``reproducibility.json``), all written by ``python -m spark_edu run
    spark_model`` and its flags; without the study it trains a tiny one and times nothing.
    ``quick=False`` trains :data:`REDUCED` (the saved study's best learning rates, 3 seeds, two runs
    at once), re-runs the prototype benchmarks over 8 seeds and times the component chapters now;
    training stability then reads the fresh runs beside the saved ones. Both read the component
    effects from the component chapters' saved results.
    """
    saved, effects = load_study(), component_effects()
    if quick:
        results = load_results()
        repro = load_reproducibility() or run_reproducibility()
        if saved is not None:
            timings = results.get("timings") if results else None
            long_study = load_study(data_dir("spark_model") / LONG_CONVERGENCE)
            return measurements(
                timings,
                saved,
                SAVED_SOURCE,
                results,
                study_name="saved study (convergence.json)",
                long_study=long_study,
                effects=effects,
                repro=repro,
            )
        return measurements(None, run_study(QUICK_STUDY), "tiny study run now", effects=effects, repro=repro)
    if saved is None:
        raise ValueError("reproduce(quick=False) needs the saved convergence study's learning rates")
    rates = {n: saved["best_lr"].get(n, RunConfig().lr) for n in REDUCED.names}
    missing = [n for n in REDUCED.names if n not in saved["best_lr"]]
    study = run_study(REDUCED, workers=2, rates=rates)
    note = f"; the original's rate for {missing}, not swept in the saved study" if missing else ""
    long_study = load_study(data_dir("spark_model") / LONG_CONVERGENCE)
    source = f"reduced study run now (saved best rates, 3 seeds{note})"
    trained = {
        f"{source}, {REDUCED.steps} steps": study,
        f"saved study (convergence.json), {saved['study']['steps']} steps": saved,
    }
    if long_study is not None:
        trained[f"saved long study (convergence_long.json), {long_study['study']['steps']} steps"] = long_study
    repro = run_reproducibility()
    return measurements(
        component_timings(),
        study,
        source,
        load_results(),
        long_study=long_study,
        trained=trained,
        effects=effects,
        repro=repro,
    )
