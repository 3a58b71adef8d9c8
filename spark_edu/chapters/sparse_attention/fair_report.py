"""What the fair resource study measured: the chapter's table, the cost ratios, the re-judged row.

From the saved studies (:mod:`.fair_study`; :func:`combine` joins the learned-position study and
the rotary one, which share every setting but the models) and cost file (:mod:`.fair_cost`):

* :func:`study_table`: per (task, model), at its chosen rate over the seeds: steps to the target
  accuracy, mean [95 % t-interval] (a censored run counts as its budget and the cell is a lower
  bound, "≥"), how many seeds reached it, and best held-out accuracy [95 % t-interval];
* :func:`cost_ratios`: per model at one length, time (median [IQR] of paired rounds), peak memory
  and FLOPs of one training step, each over dense;
* :func:`accuracy_ratio`: sparse / dense held-out accuracy per seed at the step by which every
  dense seed has reached the target (each run's last evaluation at or before it; a run that
  stopped at the target keeps that accuracy); None when dense never got there;
* :func:`claims`: the ``modular.resources.*`` measurements, with reasons that state the setting,
  judged on the strongest pair the files hold (:func:`judged_pair`: the rotary models when
  present, a dense baseline that learns the task, else the learned-position ones).
"""

from __future__ import annotations

import statistics

from spark_edu.chapters.sparse_attention.fair_cost import FAIR_COST
from spark_edu.chapters.sparse_attention.fair_study import FAIR_RESOURCES, ROPE_FILE, load_study
from spark_edu.claims import Measurement
from spark_edu.display import Table
from spark_edu.measure import mean_interval
from spark_edu.results import data_dir


def load_saved() -> tuple[dict | None, dict | None]:
    """(the two saved studies joined by :func:`combine`, cost) from the chapter's data folder;
    None for a file not yet written."""
    folder = data_dir("sparse_attention")
    study = combine(load_study(folder / FAIR_RESOURCES), load_study(folder / ROPE_FILE))
    return study, load_study(folder / FAIR_COST)


def combine(*studies: dict | None) -> dict | None:
    """One study holding the models and runs of ``studies`` (the Nones left out); every setting
    but ``models`` must agree (``ValueError`` naming the first that does not)."""
    present = [s for s in studies if s is not None]
    if not present:
        return None
    first = present[0]["study"]
    for other in present[1:]:
        for key in first:
            if key != "models" and other["study"].get(key) != first[key]:
                raise ValueError(f"studies must share every setting but models; {key!r} differs")
    models = [m for s in present for m in s["study"]["models"]]
    if len(set(models)) != len(models):
        raise ValueError(f"studies must hold different models, got {models}")
    return {
        "study": {**first, "models": models},
        "runs": [r for s in present for r in s["runs"]],
        "best_lr": {k: v for s in present for k, v in s["best_lr"].items()},
        "coverage": present[0].get("coverage"),
        "complete": all(s.get("complete", False) for s in present),
        "seconds": sum(s.get("seconds", 0.0) for s in present),
        "commands": [{k: s.get(k) for k in ("command", "seconds", "workers")} for s in present],
    }


def judged_pair(study: dict, cost: dict) -> tuple[str, str]:
    """(sparse, dense) model names the resource row is judged on: the rotary pair where the study
    and the cost file both hold it, else the learned-position pair."""
    rows = next(iter(cost["lengths"].values()))
    rope = ("sparse_rope", "dense_rope")
    return rope if set(rope) <= set(study["study"]["models"]) and set(rope) <= set(rows) else ("sparse", "dense")


def final_runs(study: dict, task: str, model: str) -> list[dict]:
    """The seed runs of (task, model) at its chosen rate, by seed ([] before the rate is chosen)."""
    lr = study["best_lr"].get(f"{task}/{model}")
    seeds = study["study"]["seeds"]
    runs = [r for r in study["runs"] if (r["task"], r["model"], r["lr"]) == (task, model, lr) and r["seed"] in seeds]
    return sorted(runs, key=lambda r: r["seed"])


def steps_summary(runs: list[dict]) -> dict:
    """Steps to the target over ``runs``: mean [interval], a censored run counted at its budget."""
    if not runs:
        raise ValueError("runs must hold at least one run")
    steps = [r["steps_to_target"] if r["steps_to_target"] is not None else r["budget"] for r in runs]
    reached = sum(r["steps_to_target"] is not None for r in runs)
    return {"steps": mean_interval(steps, 0.0), "reached": reached, "seeds": len(runs), "censored": reached < len(runs)}


def study_table(study: dict) -> list[dict]:
    """One row per (task, model) with final runs (see the module docstring)."""
    rows = []
    for task in study["study"]["tasks"]:
        for model in study["study"]["models"]:
            runs = final_runs(study, task, model)
            if runs:
                summary = steps_summary(runs)
                best = mean_interval([r["best_accuracy"] for r in runs], 0.0, 1.0)
                step_ms = 1e3 * statistics.median(r["step_seconds_median"] for r in runs)
                rows.append({"task": task, "model": model, "lr": runs[0]["lr"], **summary, "best": best, "ms": step_ms})
    return rows


def cost_ratios(cost: dict, length: int = 1024) -> dict[str, dict]:
    """Per model: time ratio to dense (median, q1, q3), memory ratio, FLOPs ratio, at ``length``."""
    if str(length) not in cost["lengths"]:
        raise ValueError(f"length must be one of {sorted(map(int, cost['lengths']))}, got {length!r}")
    return {
        name: {
            "time": (row["time_ratio"], *row["time_ratio_iqr"]),
            "memory": row["memory_ratio"],
            "flops": row["flops_ratio"],
        }
        for name, row in cost["lengths"][str(length)].items()
    }


def format_study_table(study: dict, cost: dict | None = None, length: int = 1024) -> Table:
    """:func:`study_table` as the chapter's table, with the cost ratios at ``length`` when given."""
    ratios = cost_ratios(cost, length) if cost is not None else {}
    target = study["study"]["target"]
    rows = []
    for row in study_table(study):
        mean, low, high = row["steps"]
        steps = f"{'≥ ' if row['censored'] else ''}{mean:.0f} [{low:.0f}, {high:.0f}]"
        r = ratios.get(row["model"], {})
        rows.append(
            [row["task"], row["model"], f"{row['lr']:.0e}", steps, f"{row['reached']}/{row['seeds']}", row["best"]]
            + [r.get("time"), r.get("memory"), r.get("flops")]
        )
    columns = ["task", "model", "lr", f"steps to {target:.0%} [95% CI]", "reached", "best accuracy [95% CI]"]
    columns += ["time / dense [IQR]", "memory / dense", "FLOPs / dense"]
    formats = {"best accuracy [95% CI]": ".3f", "time / dense [IQR]": ".2f", "memory / dense": ".2f"}
    formats["FLOPs / dense"] = ".2f"
    note = "≥: some seeds never reached the target; they count at the budget (a lower bound)."
    return Table(rows, columns, formats, caption=f"one thread, T = {length}", notes=note)


def accuracy_at(record: dict, step: int) -> float:
    """Held-out accuracy at the last evaluation at or before ``step``."""
    return [p["accuracy"] for p in record["curve"] if p["step"] <= step][-1]


def accuracy_ratio(study: dict, task: str, candidate: str = "sparse", baseline: str = "dense") -> dict | None:
    """Per-seed ``candidate / baseline`` accuracy where every baseline seed has reached the target.

    Returns ``{"step", "ratio": (mean, low, high), "candidate", "baseline"}``, or None when a
    baseline seed never reached the target (a ratio would divide by an unconverged model).
    """
    base, cand = final_runs(study, task, baseline), final_runs(study, task, candidate)
    if not base or not cand or any(r["steps_to_target"] is None for r in base):
        return None
    step = max(r["steps_to_target"] for r in base)
    by_seed = {r["seed"]: r for r in cand}
    pairs = [(accuracy_at(by_seed[r["seed"]], step), accuracy_at(r, step)) for r in base if r["seed"] in by_seed]
    if not pairs:
        return None
    return {
        "step": step,
        "ratio": mean_interval([c / b for c, b in pairs]),
        "candidate": statistics.fmean(c for c, _ in pairs),
        "baseline": statistics.fmean(b for _, b in pairs),
    }


def _materialising(rows: dict, sparse: str) -> str:
    mb = rows["dense"].get("materialising_peak_mb")
    if mb is None:
        return ""
    return f"; against dense attention that stores the score matrix ({mb:.0f} MB): {rows[sparse]['peak_mb'] / mb:.2f}x"


def _steps_text(study: dict, task: str) -> str:
    parts = []
    for model in study["study"]["models"]:
        runs = final_runs(study, task, model)
        if runs:
            s = steps_summary(runs)
            parts.append(f"{model} {'≥ ' if s['censored'] else ''}{s['steps'][0]:.0f} ({s['reached']}/{s['seeds']})")
    return ", ".join(parts)


def _learned_pair(ratios: dict, key: str, sparse: str) -> str:
    """The learned-position pair's ratio beside the judged rotary one (empty when it is the judged one)."""
    if sparse == "sparse":
        return ""
    value = ratios["sparse"][key]
    return f"; learned-position sparse / dense {value[0] if isinstance(value, tuple) else value:.2f}x"


def claims(study: dict, cost: dict, length: int = 1024, task: str = "local") -> list[Measurement]:
    """``modular.resources.{memory, time, performance}`` from the fair study at ``length``.

    All three on :func:`judged_pair` (sparse over its dense twin). Memory and time: one training
    step (:mod:`.fair_cost`). Performance: :func:`accuracy_ratio` on ``task`` (the other task's in
    the reason); not as stated when the dense model never reached the target (``dense_local``'s
    ratio is then given in the reason: it computes densely but keeps fewer scores than the sparse
    layout, so it is no stand-in for the report's dense model).
    """
    sparse, dense = judged_pair(study, cost)
    ratios = cost_ratios(cost, length)
    rows = cost["lengths"][str(length)]
    batch, threads = cost["batch"], cost["threads"]
    target = study["study"]["target"]
    setting = f"one training step, T={length}, B={batch}, {threads} thread(s)"
    m = [
        Measurement(
            "modular.resources.memory",
            ratios[sparse]["memory"],
            reason=(
                f"peak MB of {setting}: {sparse} {rows[sparse]['peak_mb']:.1f} / {dense} {rows[dense]['peak_mb']:.1f} "
                f"(fused SDPA){_materialising(rows, sparse)}{_learned_pair(ratios, 'memory', sparse)}; "
                f"dense with the band mask {ratios['dense_local']['memory']:.2f}x; attention FLOPs "
                f"{rows[sparse]['flops']['attention'] / rows[dense]['flops']['attention']:.2f}x"
            ),
        ),
        Measurement(
            "modular.resources.time",
            *ratios[sparse]["time"],
            reason=(
                f"{setting}, median [IQR] of {cost['rounds']} paired rounds: {sparse} "
                f"{rows[sparse]['median_ms']:.0f} ms vs {dense} {rows[dense]['median_ms']:.0f} ms; "
                f"total FLOPs {ratios[sparse]['flops']:.2f}x{_learned_pair(ratios, 'time', sparse)}; "
                f"dense with the band mask {ratios['dense_local']['time'][0]:.2f}x dense"
            ),
        ),
    ]
    extra = ""
    for t in [t for t in study["study"]["tasks"] if t != task]:
        r = accuracy_ratio(study, t, sparse, dense)
        extra += f"; {t}: " + (
            f"{sparse} / {dense} {r['candidate']:.3f} / {r['baseline']:.3f} = {r['ratio'][0]:.2f} at step {r['step']}"
            if r
            else f"{dense} never reached it"
        )
        extra += f" (steps: {_steps_text(study, t)})"
    where = f"{task} task, T={study['study']['config']['length']}, rates tuned per model"
    steps = f"steps to {target:.0%}: {_steps_text(study, task)}{extra}"
    r = accuracy_ratio(study, task, sparse, dense)
    if r is None:
        side = (
            accuracy_ratio(study, task, baseline="dense_local") if "dense_local" in study["study"]["models"] else None
        )
        aside = (
            f"; against dense attention masked to the sparse layout's band (dense compute, a sparser pattern), "
            f"sparse {side['candidate']:.3f} / {side['baseline']:.3f} at step {side['step']}"
            if side
            else ""
        )
        reason = (
            f"{where}: {dense} never reached {target:.0%} held-out accuracy in {study['study']['steps']} "
            f"steps, so there is no converged dense accuracy to divide by; {steps}{aside}"
        )
        m.append(Measurement("modular.resources.performance", None, as_stated=False, reason=reason))
        return m
    reason = (
        f"{where}: {sparse} {r['candidate']:.3f} / {dense} {r['baseline']:.3f} held-out accuracy at step "
        f"{r['step']}, where every {dense} seed has reached {target:.0%}, paired by seed; {steps}"
    )
    m.append(Measurement("modular.resources.performance", *r["ratio"], reason=reason))
    return m
