"""What the convergence study measured: steps to an accuracy, accuracy at the budget, effects.

All on held-out accuracy on the predictable part (the second halves of palindromes), from the
seed runs of :mod:`spark_edu.chapters.spark_model.convergence`:

* :func:`steps_to` — the first evaluation step at which a run reaches an accuracy (None if never);
* :func:`convergence_table` — per configuration: its learning rate, steps to 0.5 and 0.9
  (mean and 95% t-interval over seeds when every seed gets there, else how many did), the
  accuracy at the budget and the peak accuracy (each run's best evaluation, and its step), with
  intervals: on the 800 training sequences a long run memorises, so held-out accuracy can fall
  after its peak;
* :func:`paired` — a per-seed contrast between configurations (same seed: same data, same
  batches, each configuration at its own best rate), with its interval;
* :func:`interaction` — the FK×SPD 2×2: FK's effect without and with the router, SPD's
  without and with FK, and the interaction (FK+SPD − SPD) − (FK − none);
* :func:`integration` — the one criterion applied to all three components (see its docstring);
* :func:`repeat_last_floor` — what the rule "repeat the last token" scores on each seed's held-out set;
* :func:`steps_ratios` — per seed, how many times as many steps one configuration needs as another;
* :func:`loss_summary` — training and held-out losses at the start and end, to tell a model that
  memorises the training sequences from one that does not move.

The metric of the contrasts is the area under the accuracy curve (:func:`spark_edu.chapters.
spark_model.convergence.area`, the mean held-out accuracy over the run's evaluations): it
rewards learning sooner, and unlike steps-to-accuracy it is defined for runs that never get there.
"""

from __future__ import annotations

import math
import statistics

from spark_edu.chapters.spark_model.convergence import area
from spark_edu.chapters.spark_model.training import RunConfig, datasets
from spark_edu.display import Table
from spark_edu.measure import mean_interval

THRESHOLDS = (0.5, 0.9)
FROZEN_MARGIN = 0.05  # a run whose last training loss is within this of a uniform guess has not moved


def steps_to(record: dict, threshold: float) -> int | None:
    """The first evaluated step with held-out accuracy ≥ ``threshold``, or None."""
    return next((p["step"] for p in record["curve"] if p["acc_predictable"] >= threshold), None)


def accuracy_at(record: dict, step: int | None = None) -> float:
    """Held-out accuracy at evaluation ``step`` (the last one when None)."""
    if step is None:
        return record["curve"][-1]["acc_predictable"]
    return next(p["acc_predictable"] for p in record["curve"] if p["step"] == step)


def by_label(study: dict) -> dict[str, list[dict]]:
    """The seed runs of each configuration at its chosen rate, in the study's order, sorted by seed
    (runs at a rate chosen by an earlier rule stay in the file, see :func:`superseded`)."""
    out: dict[str, list[dict]] = {}
    for r in study["runs"]:
        if r["lr"] == study["best_lr"].get(r["label"]):
            out.setdefault(r["label"], []).append(r)
    order = study["study"]["names"]
    return {n: sorted(out[n], key=lambda r: r["seed"]) for n in order if n in out}


def superseded(study: dict) -> list[dict]:
    """Seed runs at a rate that is no longer the configuration's choice."""
    return [r for r in study["runs"] if r["lr"] != study["best_lr"].get(r["label"])]


def convergence_table(study: dict, step: int | None = None, kept: bool = False) -> dict[str, dict]:
    """Per configuration: lr, seeds, steps to each threshold, accuracy at ``step`` (default: the budget).

    ``kept=True`` adds the :func:`superseded` runs as rows of their own, "FK @ 0.0003".
    """
    groups = by_label(study)
    if kept:
        for r in superseded(study):
            groups.setdefault(f"{r['label']} @ {r['lr']:g}", []).append(r)
    table = {}
    for name, runs in groups.items():
        row = {"lr": runs[0]["lr"], "seeds": len(runs), "parameters": runs[0]["parameters"]}
        for t in THRESHOLDS:
            steps = [steps_to(r, t) for r in runs]
            reached = [s for s in steps if s is not None]
            row[f"steps_{t}"] = mean_interval(reached, 0.0) if len(reached) == len(runs) > 1 else None
            row[f"reached_{t}"] = len(reached)
        row["accuracy"] = mean_interval([accuracy_at(r, step) for r in runs], 0.0, 1.0)
        best = [max(r["curve"], key=lambda p: p["acc_predictable"]) for r in runs]
        row["peak"] = mean_interval([p["acc_predictable"] for p in best], 0.0, 1.0)
        row["peak_step"] = statistics.median(p["step"] for p in best)
        row["area"] = mean_interval([area(r) for r in runs], 0.0, 1.0)
        table[name] = row
    return table


def format_table(table: dict[str, dict], budget: int, peak: bool = False) -> Table:
    """:func:`convergence_table` as a book table (steps: mean [95% interval] where every seed
    gets there, else how many seeds do); ``peak=True`` adds the peak accuracy and its step."""

    def steps(row, t):
        s = row[f"steps_{t}"]
        if s is None:
            return f"{row[f'reached_{t}']}/{row['seeds']} seeds"
        return f"{s[0]:.0f} [{s[1]:.0f}, {s[2]:.0f}]"

    def interval(m):
        return f"{m[0]:.3f} [{m[1]:.3f}, {m[2]:.3f}]"

    rows = [
        [name, f"{row['lr']:.0e}", row["seeds"], steps(row, 0.5), steps(row, 0.9)]
        + ([interval(row["peak"]), f"{row['peak_step']:.0f}"] if peak else [])
        + [row["accuracy"][0], f"[{row['accuracy'][1]:.3f}, {row['accuracy'][2]:.3f}]"]
        for name, row in table.items()
    ]
    columns = ["configuration", "lr", "seeds", "steps to 0.5", "steps to 0.9"]
    columns += ["peak accuracy [95% CI]", "step of peak (median)"] if peak else []
    columns += [f"accuracy at {budget}", "95% interval"]
    return Table(rows, columns, {f"accuracy at {budget}": ".3f"})


def paired(study: dict, plus: str, minus: str, metric=area) -> tuple[float, float, float] | None:
    """Mean over seeds of ``metric(plus run) − metric(minus run)``, 95% interval; None if either is missing."""
    runs = by_label(study)
    if plus not in runs or minus not in runs:
        return None
    a, b = ({r["seed"]: metric(r) for r in runs[n]} for n in (plus, minus))
    diffs = [a[s] - b[s] for s in sorted(a.keys() & b.keys())]
    return mean_interval(diffs) if len(diffs) > 1 else None


def interaction(study: dict, spd: str = "SPD(res)", metric=area) -> dict[str, tuple[float, float, float] | None]:
    """The FK×SPD 2×2 for one router wiring (``spd`` = "SPD" or "SPD(res)"), paired by seed."""
    both = f"FK+{spd}"
    runs = by_label(study)
    out = {
        "FK without SPD": paired(study, "FK", "none", metric),
        "FK with SPD": paired(study, both, spd, metric),
        "SPD without FK": paired(study, spd, "none", metric),
        "SPD with FK": paired(study, both, "FK", metric),
        "interaction": None,
    }
    if all(n in runs for n in ("none", "FK", spd, both)):
        value = {n: {r["seed"]: metric(r) for r in runs[n]} for n in ("none", "FK", spd, both)}
        seeds = sorted(set.intersection(*(set(v) for v in value.values())))
        contrast = [(value[both][s] - value[spd][s]) - (value["FK"][s] - value["none"][s]) for s in seeds]
        out["interaction"] = mean_interval(contrast) if len(contrast) > 1 else None
    return out


def _without(full: str, component: str) -> str:
    parts = [p for p in full.split("+") if not p.startswith(component)]
    return "+".join(parts) or "none"


def integration(study: dict, full: str = "FK+SPD+verifier") -> dict[str, dict]:
    """The one criterion for all three components: leave it out of the full model.

    For each component, the paired (by seed) difference in area under the held-out accuracy
    curve between ``full`` and ``full`` without it. The component *works with the others* when
    that difference's 95% interval reaches 0 or above (leaving it out does not make the model
    learn significantly sooner); it *conflicts* when the whole interval is below 0. None where
    a configuration was not trained. ``learners`` counts, for ``full`` and for the model without
    the component, the seeds that pass 0.5 within the budget: where both are 0 the difference is
    between two models that fail, and says little.
    """
    out = {}
    runs = by_label(study)
    for component in ("FK", "SPD", "verifier"):
        without = _without(full, component)
        effect = paired(study, full, without)
        out[component] = {
            "without": without,
            "effect": effect,
            "works": None if effect is None else effect[2] >= 0,
            "learners": [sum(steps_to(r, 0.5) is not None for r in runs.get(n, [])) for n in (full, without)],
        }
    return out


def run_summary(record: dict) -> dict:
    """What :func:`stability` reads, from a full :func:`~spark_edu.chapters.spark_model.training.train_run`
    record (the saved ablation of ``results.json`` keeps every step)."""
    norms, losses = record["grad_norms"], record["losses"]
    return {
        "grad_norm_max": max(norms),
        "grad_norm_median": statistics.median(norms),
        "finite": all(math.isfinite(x) for x in losses + norms),
        "fk_q_max": max((b["q"] for b in record["fk_bounds"]), default=None),
    }


def stability(runs: list[dict]) -> dict[str, float | bool]:
    """The no-explosion check on ``runs`` (seed runs of one configuration): losses and gradients
    finite, largest pre-clipping gradient norm within 10× its run's median, FK series ratio q < 1."""
    ratios = [r["grad_norm_max"] / r["grad_norm_median"] for r in runs]
    qs = [r["fk_q_max"] for r in runs if r["fk_q_max"] is not None]
    finite = all(r["finite"] for r in runs)
    return {
        "runs": len(runs),
        "finite": finite,
        "max_grad_ratio": max(ratios) if ratios else float("nan"),
        "q_max": max(qs) if qs else float("nan"),
        "stable": bool(runs) and finite and max(ratios) <= 10 and (not qs or max(qs) < 1),
    }


def mean_curve(runs: list[dict]) -> tuple[list[int], list[float], list[float], list[float]]:
    """Steps, mean, lowest and highest held-out accuracy over seeds at each evaluation."""
    steps = [p["step"] for p in runs[0]["curve"]]
    accs = [[r["curve"][i]["acc_predictable"] for r in runs] for i in range(len(steps))]
    return steps, [statistics.fmean(a) for a in accs], [min(a) for a in accs], [max(a) for a in accs]


def repeat_last_floor(seeds, n_test: int) -> list[float]:
    """Held-out accuracy on the predictable part of the rule "the next token repeats this one"
    (:func:`spark_edu.tasks.palindromes.repeat_last_accuracy`), on the held-out set each seed's
    runs are scored on. It is also about where every model starts: with the output head tied to the
    embedding, an untrained model's most likely next token is mostly the current one."""
    from spark_edu.tasks.palindromes import repeat_last_accuracy

    return [repeat_last_accuracy(datasets(seed, RunConfig(n_test=n_test))[1]) for seed in seeds]


def steps_ratios(study: dict, slow: str, fast: str, threshold: float = 0.5) -> list[float]:
    """Per seed, ``steps_to(slow) / steps_to(fast)`` (seeds where both reach ``threshold``).
    Each is read on the study's evaluation grid, so it is as coarse as the grid."""
    runs = by_label(study)
    fast_steps = {r["seed"]: steps_to(r, threshold) for r in runs[fast]}
    ratios = []
    for r in runs[slow]:
        a, b = steps_to(r, threshold), fast_steps.get(r["seed"])
        if a is not None and b:
            ratios.append(a / b)
    return ratios


def loss_summary(study: dict) -> dict[str, dict]:
    """Per configuration (mean [95% interval] over seeds): the last training loss (every position),
    held-out loss on the predictable part at step 0, at its lowest and at the end, accuracy at
    step 0, and how many seeds end with a training loss above ln(ids) − :data:`FROZEN_MARGIN`, ids the number of
    token ids the sequences draw from: the loss of a uniform guess among them (not moved at all)."""
    ids = RunConfig().data.vocab_size - 2  # ids 1 … V − 2
    out = {}
    for name, runs in by_label(study).items():
        held = [[p["loss_predictable"] for p in r["curve"]] for r in runs]
        out[name] = {
            "train_end": mean_interval([r["train_loss"][-1] for r in runs]),
            "held_start": mean_interval([h[0] for h in held]),
            "held_min": mean_interval([min(h) for h in held]),
            "held_end": mean_interval([h[-1] for h in held]),
            "acc_start": mean_interval([r["curve"][0]["acc_predictable"] for r in runs], 0.0, 1.0),
            "frozen": sum(r["train_loss"][-1] > math.log(ids) - FROZEN_MARGIN for r in runs),
        }
    return out
