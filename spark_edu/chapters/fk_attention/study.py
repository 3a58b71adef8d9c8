"""The steps-to-accuracy study: learning rates tuned per variant, then seeds, one saved file per cell.

A *cell* is (task, hops, layers) with its step budget (:data:`CELLS`). For each variant,
:func:`run_cell` trains seed 0 at every learning rate of ``lrs``, keeps the one that reached
the target soonest (:func:`~spark_edu.chapters.fk_attention.steps.best_lr`), and trains the
other seeds at that rate; seed 0's run at the chosen rate is one of the reported seeds.
Each finished run is written at once to ``steps_<task>_k<hops>_l<layers>.json`` (with the
command, settings, wall time, threads and load average), so an interrupted study keeps its
runs. ``python -m spark_edu run fk_attention --cell ...`` runs it; :func:`load_cells` reads
every saved cell and :func:`summarize` gives steps to target per variant with intervals.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from spark_edu import results
from spark_edu.chapters.fk_attention.steps import (
    VARIANTS,
    StepsSetting,
    best_lr,
    check_variant,
    setting_dict,
    steps_or_budget,
    steps_run,
    task_config,
)
from spark_edu.device import describe_environment
from spark_edu.display import Table
from spark_edu.measure import mean_interval

#: (task, hops, layers) -> step budget: the cells of the saved study.
CELLS = {
    ("pointer", 1, 1): 1500,  # the 1-hop stand-in of the claims, to a fixed accuracy
    ("pointer", 2, 2): 3000,  # two hops, two layers: standard attention solves it in this budget
    ("reach", 2, 1): 2000,  # reachability, one layer: a sum over paths, where the resolvent should help
    ("reach_matched", 3, 1): 2000,  # three hops, degree-matched negatives: only the paths decide
}
LRS = (1e-3, 3e-3, 1e-2)
#: Each cell's grid: :data:`LRS` widened at the edge that its variants chose (1e-2 at one hop, 1e-3 elsewhere).
CELL_LRS = {
    ("pointer", 1, 1): (*LRS, 3e-2),
    ("pointer", 2, 2): (3e-4, *LRS),
    ("reach", 2, 1): (3e-4, *LRS),
    ("reach_matched", 3, 1): (3e-4, *LRS),
}
#: Variants of the two-layer cell (each FK run there costs a minute of CPU): the β sweep's ends and middle.
HEAVY_VARIANTS = ("standard", "fk β=0.1", "fk β=0.5", "fk β=0.9", "fk learned β", "fk no-self β=0.5")


def slug(variant: str) -> str:
    """A name usable as a glue key: ``"fk β=0.5"`` → ``"fk_b05"``, ``"fk no-self β=0.5"`` → ``"fk_noself_b05"``."""
    return variant.replace("β=", "b").replace(".", "").replace("-", "").replace(" β", "").replace(" ", "_")


def cell_file(task: str, hops: int, layers: int) -> str:
    return f"steps_{task}_k{hops}_l{layers}.json"


def run_cell(
    task: str,
    hops: int,
    layers: int,
    out: Path | str,
    variants=tuple(VARIANTS),
    lrs=LRS,
    seeds: int = 3,
    max_steps: int | None = None,
    eval_size: int = 1000,
    resume: bool = False,
) -> Path:
    """Tune, then seed, every variant on one cell; rewrite the cell's file after each run.

    ``resume=True`` reuses the runs already in the cell's file (same settings required) and
    trains only the missing ones: e.g. one more learning rate for every variant, then the
    seeds at any rate that the larger grid now chooses. Its wall time adds to the file's.
    """
    for name in variants:
        check_variant(name)
    budget = max_steps if max_steps is not None else CELLS.get((task, hops, layers), 2000)
    setting = replace(StepsSetting(), max_steps=budget, eval_size=eval_size)
    task_config(task, hops, setting)  # a bad cell stops here, before anything is written
    path = Path(out) / cell_file(task, hops, layers)
    previous = load_cell(path) if resume and path.exists() else None
    if previous is not None and previous["setting"] != setting_dict(setting):
        raise ValueError(f"resume: {path} was made with other settings ({previous['setting']}); remove it first")
    done = {(r["variant"], r["lr"], r["seed"]): r for r in previous["runs"]} if previous else {}
    wall_before = previous["wall_s"] if previous else 0.0
    record = {
        "command": "python -m spark_edu " + " ".join(sys.argv[1:]),
        "cell": {"task": task, "hops": hops, "layers": layers},
        "setting": setting_dict(setting),
        "lrs": list(lrs),
        "seeds": list(range(seeds)),
        "threads": 1,
        "environment": describe_environment(),
        "date": datetime.date.today().isoformat(),
        "runs": list(done.values()),
        "best_lr": {},
    }
    start = time.perf_counter()

    def save(run: dict | None) -> None:
        if run is not None:
            record["runs"].append(run)
        record["wall_s"] = round(wall_before + time.perf_counter() - start, 1)
        record["load_average"] = [round(x, 2) for x in os.getloadavg()]
        results.write_atomic(path, json.dumps(record, indent=1))

    def trained(name: str, lr: float, seed: int) -> dict:
        if (name, lr, seed) not in done:  # the file keeps every earlier run, so an interruption loses none
            done[(name, lr, seed)] = steps_run(name, task, hops, layers, lr, seed, setting)
            save(done[(name, lr, seed)])
        return done[(name, lr, seed)]

    save(None)
    for name in variants:
        lr = best_lr([trained(name, rate, 0) for rate in lrs], budget)
        record["best_lr"][name] = lr
        save(None)
        for seed in range(1, seeds):
            trained(name, lr, seed)
    return path


def load_cell(path: Path | str) -> dict:
    """One saved cell, as :func:`run_cell` wrote it; a variant whose seed-0 runs cover every
    learning rate but whose choice was not yet written (the study stopped right after its
    tuning) gets it here, by the same rule (:func:`~spark_edu.chapters.fk_attention.steps.best_lr`)."""
    cell = json.loads(Path(path).read_text())
    for name in dict.fromkeys(r["variant"] for r in cell["runs"]):
        tuning = [r for r in cell["runs"] if r["variant"] == name and r["seed"] == 0]
        if name not in cell["best_lr"] and {r["lr"] for r in tuning} == set(cell["lrs"]):
            cell["best_lr"][name] = best_lr(tuning, cell["setting"]["max_steps"])
    return cell


def load_cells(folder: Path | str | None = None) -> list[dict]:
    """Every saved cell (the shipped ones by default), in :data:`CELLS` order where listed.

    A cell may be split over several files (``steps_<cell>*.json``, one per process that ran
    some of its variants): they are merged by :func:`merge`.
    """
    folder = results.data_dir("fk_attention") if folder is None else Path(folder)
    groups: dict[tuple, list[dict]] = {}
    for p in sorted(Path(folder).glob("steps_*.json")):
        cell = load_cell(p)
        groups.setdefault(key(cell), []).append(cell)
    order = list(CELLS)
    merged = [merge(parts) for parts in groups.values()]
    return sorted(merged, key=lambda c: order.index(key(c)) if key(c) in order else len(order))


def _part(cell: dict) -> dict:
    """What :func:`merge` keeps of one file: how it was made, and by which command."""
    return {k: cell.get(k) for k in ("command", "wall_s", "load_average", "date", "lrs", "seeds")} | {
        "variants": list(dict.fromkeys(r["variant"] for r in cell["runs"])),
        "max_steps": cell["setting"]["max_steps"],
    }


def merge(parts: list[dict]) -> dict:
    """One cell from the files of several processes: each variant's runs from the first file that
    finished tuning it (else the first that has any); ``parts`` keeps every file's command,
    wall time and load average, and ``wall_s`` is their sum (process time, not elapsed time)."""
    if len({key(p) for p in parts}) != 1:
        raise ValueError(f"merge needs files of one cell, got {sorted({key(p) for p in parts})}")
    cell = dict(parts[0], runs=[], best_lr={})
    cell["parts"] = [_part(p) for p in parts]
    cell["wall_s"] = round(sum(p["wall_s"] for p in parts), 1)
    variants = dict.fromkeys(r["variant"] for p in parts for r in p["runs"])
    for v in variants:
        source = next((p for p in parts if v in p["best_lr"]), None) or next(
            p for p in parts if any(r["variant"] == v for r in p["runs"])
        )
        cell["runs"] += [r for r in source["runs"] if r["variant"] == v]
        if v in source["best_lr"]:
            cell["best_lr"][v] = source["best_lr"][v]
    rank = {name: i for i, name in enumerate(VARIANTS)}
    cell["best_lr"] = dict(sorted(cell["best_lr"].items(), key=lambda item: rank.get(item[0], len(rank))))
    return cell


def key(cell: dict) -> tuple:
    c = cell["cell"]
    return (c["task"], c["hops"], c["layers"])


def reported_runs(cell: dict, variant: str) -> list[dict]:
    """The runs at the variant's chosen learning rate (seed 0's tuning run included)."""
    lr = cell["best_lr"].get(variant)
    return [r for r in cell["runs"] if r["variant"] == variant and r["lr"] == lr]


def summarize(cell: dict) -> list[dict]:
    """Per variant: seeds, how many reached the target, steps to target (censored at the budget), accuracy."""
    budget = cell["setting"]["max_steps"]
    rows = []
    for variant in cell["best_lr"]:
        runs = reported_runs(cell, variant)
        steps = [steps_or_budget(r, budget) for r in runs]
        mean, low, high = mean_interval(steps, 0.0, budget) if len(steps) > 1 else (steps[0],) * 3
        acc = [r["final_accuracy"] for r in runs]
        best = [max(a for _, a in r["curve"]) for r in runs]
        rows.append(
            {
                "variant": variant,
                "lr": cell["best_lr"][variant],
                "lrs_tried": len({r["lr"] for r in cell["runs"] if r["variant"] == variant and r["seed"] == 0}),
                "seeds": len(runs),
                "reached": sum(r["steps_to_target"] is not None for r in runs),
                "steps_mean": mean,
                "steps_low": low,
                "steps_high": high,
                "steps_median": statistics.median(steps),
                "best_accuracy": mean_interval(best, 0.0, 1.0) if len(best) > 1 else (best[0],) * 3,
                "final_accuracy": mean_interval(acc, 0.0, 1.0) if len(acc) > 1 else (acc[0],) * 3,
                "max_abs_beta": max((r["max_abs_beta"] or 0.0) for r in runs),
                "overlap": max(r["overlap"] for r in runs),
            }
        )
    return rows


def format_summary(cell: dict) -> Table:
    """:func:`summarize` as a book table: steps to target and best held-out accuracy; runs of
    variants whose tuning did not finish go in the notes."""
    c, s = cell["cell"], cell["setting"]
    caption = (
        f"{c['task']}, {c['hops']} hop(s), {c['layers']} layer(s): steps to held-out accuracy {s['target']} "
        f"(budget {s['max_steps']}, evaluated every {s['eval_every']} on {s['eval_size']} held-out examples)"
    )
    rows = []
    for r in summarize(cell):
        censored = "" if r["reached"] == r["seeds"] else "≥, censored"
        steps = (r["steps_mean"], r["steps_low"], r["steps_high"])
        rows.append(
            [r["variant"], r["lr"], r["lrs_tried"], f"{r['reached']}/{r['seeds']}", steps, censored, r["best_accuracy"]]
        )
    notes = []
    for r in incomplete_runs(cell):
        reached = r["steps_to_target"] if r["steps_to_target"] is not None else f"not in {s['max_steps']}"
        notes.append(
            f"{r['variant']}, lr {r['lr']:.0e}: seed 0 only (tuning not finished): steps {reached}, "
            f"best accuracy {max(a for _, a in r['curve']):.3f}"
        )
    columns = ["variant", "lr", "of n lrs", "reached", "steps to target [95% CI]", "note", "best accuracy [95% CI]"]
    formats = {"lr": ".0e", "steps to target [95% CI]": ".0f", "best accuracy [95% CI]": ".3f"}
    return Table(rows, columns, formats, caption, "\n".join(notes))


def incomplete_runs(cell: dict) -> list[dict]:
    """Runs of variants whose learning-rate tuning did not finish (an interrupted study)."""
    return [r for r in cell["runs"] if r["variant"] not in cell["best_lr"]]


def commands(cell: dict) -> list[str]:
    """The commands that regenerate ``cell`` into the shipped data folder, one per saved part."""
    c = cell["cell"]
    lines = []
    for part in cell.get("parts", [cell]):
        variants = " ".join(shlex.quote(v) for v in part["variants"])
        lines.append(
            f"python -m spark_edu run fk_attention --study --cell {c['task']} {c['hops']} {c['layers']} "
            f"--variants {variants} --lrs {' '.join(f'{lr:g}' for lr in part['lrs'])} "
            f"--max-steps {part['max_steps']} --seeds {len(part['seeds'])}"
        )
    return lines


def curves(cell: dict, variant: str) -> list[tuple[list[int], list[float]]]:
    """(steps, accuracies) of each reported run of ``variant``, for the figure."""
    return [([s for s, _ in r["curve"]], [a for _, a in r["curve"]]) for r in reported_runs(cell, variant)]


def overlap_total(cells: list[dict]) -> int:
    """Held-out inputs that also appeared in a training batch, over every run of every cell."""
    return sum(r["overlap"] for c in cells for r in c["runs"])
