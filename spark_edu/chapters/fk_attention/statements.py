"""The report's statements on FK attention (spark.fk.harder_tasks, spark.fk.overhead), judged from the
chapter's saved measurements.

What is measured: for every cell of the chapter's saved comparisons, each FK variant's held-out
accuracy minus standard attention's, paired by seed (the two share the seed's held-out set), as a
mean with a 95% Student-t interval over seeds (:func:`spark_edu.measure.mean_interval`).
:func:`accuracy_pairs` builds them: from the steps-to-accuracy study
(:mod:`~spark_edu.chapters.fk_attention.study`) the best held-out accuracy of each run at its
variant's tuned learning rate (the accuracy the study reports; ``metric="last"`` takes the last
evaluation instead, shown beside the verdict as a check of that choice), and from the
pointer-chasing sweep (:mod:`~spark_edu.chapters.fk_attention.sweep`) the accuracy after its
fixed budget. A cell is *harder* with two or more hops, or on reachability. The step cost is the paired time ratio of
:mod:`~spark_edu.chapters.fk_attention.step_cost`.

:func:`harder_tasks` and :func:`overhead` are pure functions of those numbers and return the
statements' :class:`~spark_edu.claims.Measurement`.
"""

from __future__ import annotations

from spark_edu.chapters.fk_attention import study
from spark_edu.claims import Measurement
from spark_edu.measure import mean_interval

HARDER = "spark.fk.harder_tasks"
OVERHEAD = "spark.fk.overhead"


def is_harder(task: str, hops: int) -> bool:
    """The criterion's harder cells: two or more hops, or reachability."""
    return hops >= 2 or task.startswith("reach")


METRICS = ("best", "last")


def _pair(source: str, task: str, hops: int, layers: int, variant: str, fk: dict, standard: dict) -> dict:
    seeds = sorted(set(fk) & set(standard))
    if not seeds:
        raise ValueError(f"{source} {task} k={hops} L={layers}: {variant} and standard share no seed")
    diffs = [fk[s] - standard[s] for s in seeds]
    return {
        "source": source,
        "cell": f"{task} k={hops} L={layers}",
        "variant": variant,
        "harder": is_harder(task, hops),
        "seeds": len(seeds),
        "standard": sum(standard[s] for s in seeds) / len(seeds),  # its mean accuracy, for scale
        "diff": list(mean_interval(diffs, -1.0, 1.0)),  # [mean, low, high]
    }


def accuracy_pairs(cells: list[dict], sweep_records: list[dict], metric: str = "best") -> list[dict]:
    """FK − standard held-out accuracy per (cell, FK variant), paired by seed: study cells, then sweep cells.

    ``cells`` as :func:`~spark_edu.chapters.fk_attention.study.load_cells` returns them,
    ``sweep_records`` as :func:`~spark_edu.chapters.fk_attention.sweep.load_records`; ``metric``
    is a study run's best held-out accuracy (``"best"``) or its last evaluation (``"last"``).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    pairs = []
    for cell in cells:
        task, hops, layers = study.key(cell)
        score = (lambda r: max(a for _, a in r["curve"])) if metric == "best" else (lambda r: r["final_accuracy"])
        best = {v: {r["seed"]: score(r) for r in study.reported_runs(cell, v)} for v in cell["best_lr"]}
        for variant in best:
            if variant != "standard" and "standard" in best:
                pairs.append(_pair("study", task, hops, layers, variant, best[variant], best["standard"]))
    sweep: dict[tuple, dict] = {}
    for r in sweep_records:
        sweep.setdefault((int(r["hops"]), int(r["layers"])), {}).setdefault(r["kind"], {})[int(r["seed"])] = float(
            r["accuracy"]
        )
    for (hops, layers), kinds in sorted(sweep.items()):
        if {"fk", "standard"} <= set(kinds):
            pairs.append(_pair("sweep", "pointer", hops, layers, "fk", kinds["fk"], kinds["standard"]))
    return pairs


def _show(pair: dict) -> str:
    mean, low, high = pair["diff"]
    return (
        f"{pair['source']} {pair['cell']} {pair['variant']}: {mean:+.3f} [{low:+.3f}, {high:+.3f}] "
        f"(standard {pair['standard']:.3f})"
    )


def closest(pairs: list[dict]) -> dict:
    """The pair whose interval comes nearest to lying above 0 (the largest lower end)."""
    return max(pairs, key=lambda p: p["diff"][1])


def _check(alternative: list[dict] | None, harder_only: bool) -> str:
    """The pairs above 0 under the other accuracy measure (reported, never deciding)."""
    if alternative is None:
        return ""
    above = [p for p in alternative if p["diff"][1] > 0 and (p["harder"] or not harder_only)]
    shown = "; ".join(_show(p) for p in above) if above else "none"
    return f"; at the study's last evaluation instead of its best, above 0: {shown}"


def harder_tasks(pairs: list[dict], alternative: list[dict] | None = None) -> Measurement:
    """Holds if some harder pair's 95% interval of FK − standard accuracy lies above 0.

    ``alternative``: the same pairs under the other accuracy measure
    (:func:`accuracy_pairs` with ``metric="last"``), named in the reason; it does not decide.
    """
    harder = [p for p in pairs if p["harder"]]
    if not harder:
        raise ValueError("harder_tasks needs at least one pair from a harder cell")
    above = [p for p in harder if p["diff"][1] > 0]
    seeds = sorted({p["seeds"] for p in harder})
    if above:
        reason = f"FK above standard in {len(above)} of {len(harder)} harder (cell, variant) pairs: " + "; ".join(
            _show(p) for p in above
        )
    else:
        reason = (
            f"in none of {len(harder)} harder (cell, variant) pairs is FK − standard held-out accuracy above 0 "
            f"(95% interval over {'/'.join(map(str, seeds))} seeds, paired); nearest: {_show(closest(harder))}; "
            f"below 0 in {sum(p['diff'][2] < 0 for p in harder)}"
        )
    reason += _check(alternative, harder_only=True)
    details = {"pairs": harder, "above": [p["cell"] + " " + p["variant"] for p in above]}
    return Measurement(HARDER, bool(above), reason=reason, details=details)


def overhead(
    step_cost: list[dict], pairs: list[dict], source: str = "", alternative: list[dict] | None = None
) -> Measurement:
    """Holds if every timed FK training step costs more than standard's (median ratio above 1) and no
    pair of any cell has FK − standard accuracy with a 95% interval above 0.

    ``step_cost`` rows carry ``cell``, ``variant``, ``ratio``, ``q1``, ``q3``
    (:func:`~spark_edu.chapters.fk_attention.step_cost.measure_step_cost`); ``source`` (where the
    timings come from) is appended to the reason, and ``alternative`` as in :func:`harder_tasks`.
    """
    if not step_cost or not pairs:
        raise ValueError("overhead needs step-cost rows and accuracy pairs")
    costlier = all(r["ratio"] > 1 for r in step_cost)
    wins = [p for p in pairs if p["diff"][1] > 0]
    low, high = min(step_cost, key=lambda r: r["ratio"]), max(step_cost, key=lambda r: r["ratio"])
    cost = (
        f"FK/standard training-step time {low['ratio']:.2f}x [IQR {low['q1']:.2f}–{low['q3']:.2f}] "
        f"({low['cell']}, {low['variant']}) to {high['ratio']:.2f}x [IQR {high['q1']:.2f}–{high['q3']:.2f}] "
        f"({high['cell']}, {high['variant']}) over {len(step_cost)} (cell, variant) pairs"
    )
    if not costlier:
        cost += f"; not above 1 in {sum(r['ratio'] <= 1 for r in step_cost)}"
    accuracy = f"FK beats standard in {len(wins)} of {len(pairs)} (cell, variant) pairs" + (
        ": " + "; ".join(_show(p) for p in wins) if wins else f" (nearest: {_show(closest(pairs))})"
    )
    details = {"step_cost": step_cost, "wins": [p["cell"] + " " + p["variant"] for p in wins], "pairs": len(pairs)}
    reason = f"{cost}{f' ({source})' if source else ''}; {accuracy}{_check(alternative, harder_only=False)}"
    return Measurement(OVERHEAD, costlier and not wins, reason=reason, details=details)
