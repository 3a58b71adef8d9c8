"""Each component's effect as its own chapter measures it, read from that chapter's saved results.

What "Statistical Significance: Limited due to small improvements and high variance" is judged
on (:func:`spark_edu.chapters.spark_model.statements.significance`). Every effect is a mean with
its 95% Student-t interval over seeds (:func:`spark_edu.measure.mean_interval`):

* :func:`fk_effects` — FK − standard held-out accuracy in each (hops, layers) cell of the FK
  attention chapter's pointer-chasing sweep (``spark_edu/data/fk_attention/sweep.csv``), paired
  by seed (same seed: same initial draws, batches and test set);
* :func:`spd_effects` — the learned-basis SPD router's output-SNR gain over its input, in dB, at
  each noise level of the SPD router chapter's saved sweep (``spark_edu/data/spd_router/stationary.json``);
* :func:`verifier_effects` — verifier − standard (causal transformer) test accuracy in each
  (language, task) cell of the verifier chapter's saved sweep (``spark_edu/data/verifier/results.json``),
  paired by seed.

The chapters' own loaders and summaries are called; nothing is trained.
"""

from __future__ import annotations

from spark_edu.measure import mean_interval


def _effect(values: list[float], low: float = -1.0, high: float = 1.0) -> dict:
    mean, lo, hi = mean_interval(values, low, high)
    return {"mean": mean, "low": lo, "high": hi, "seeds": len(values)}


def fk_effects(records: list[dict] | None = None) -> dict[str, dict]:
    """Cell "k hop(s), L layer(s)" -> FK − standard accuracy, paired by seed (default: the saved sweep)."""
    from spark_edu.chapters.fk_attention.sweep import load_records

    records = load_records() if records is None else records
    acc: dict[tuple, dict[str, dict[int, float]]] = {}
    for r in records:
        cell = acc.setdefault((int(r["hops"]), int(r["layers"])), {})
        cell.setdefault(r["kind"], {})[int(r["seed"])] = float(r["accuracy"])
    out = {}
    for (hops, layers), kinds in sorted(acc.items()):
        seeds = sorted(kinds.get("fk", {}).keys() & kinds.get("standard", {}).keys())
        if seeds:
            diffs = [kinds["fk"][s] - kinds["standard"][s] for s in seeds]
            out[f"{hops} hop{'s' if hops > 1 else ''}, {layers} layer{'s' if layers > 1 else ''}"] = _effect(diffs)
    return out


def spd_effects(records: list[dict] | None = None, method: str = "router, learned basis") -> dict[str, dict]:
    """Noise level "σ = s" -> the router's output-SNR gain (dB) over seeds (default: the saved sweep)."""
    from spark_edu.chapters.spd_router.saved import load_results

    if records is None:
        saved = load_results()
        records = saved["stationary"]["records"] if saved else []
    gains: dict[float, list[float]] = {}
    for r in records:
        if r["method"] == method:
            gains.setdefault(float(r["noise"]), []).append(float(r["snr_improvement"]))
    return {f"σ = {level:g}": _effect(v, -float("inf"), float("inf")) for level, v in sorted(gains.items())}


def verifier_effects(results: dict | None = None) -> dict[str, dict]:
    """Cell "Dyck-n task" -> verifier − standard test accuracy, paired by seed (default: the saved sweep)."""
    from spark_edu.chapters.verifier.experiments import BASELINE, languages_done, load_results, runs_of
    from spark_edu.chapters.verifier.models import TASKS

    results = load_results() if results is None else results
    out = {}
    for lang in languages_done(results):
        verifier = {r["seed"]: r for r in runs_of(results, lang, "verifier")}
        standard = {r["seed"]: r for r in runs_of(results, lang, BASELINE)}
        seeds = sorted(verifier.keys() & standard.keys())
        for task in TASKS:
            diffs = [verifier[s]["test"][task] - standard[s]["test"][task] for s in seeds]
            if diffs:
                out[f"Dyck-{lang} {task}"] = _effect(diffs)
    return out


#: How :func:`component_effects` names each effect.
FK, SPD, VERIFIER = "FK − standard accuracy", "SPD output-SNR gain (dB)", "verifier − standard accuracy"


def component_effects() -> dict[str, dict[str, dict]]:
    """The three components' effects from their chapters' saved results, cell by cell."""
    return {FK: fk_effects(), SPD: spd_effects(), VERIFIER: verifier_effects()}
