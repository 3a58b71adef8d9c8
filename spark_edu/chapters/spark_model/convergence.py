"""The convergence study behind ``spark_edu/data/spark_model/convergence.json``.

Every configuration of :data:`CONFIGS` (the standard model, FK attention, the SPD router in
each wiring, their FK×SPD combinations, the verifier head and the full model) is trained in
two phases, each run seeded on its own (:func:`spark_edu.chapters.spark_model.training.train_run`):

1. **learning-rate sweep**: every rate of :attr:`Study.lrs` on the selection seeds
   (:attr:`Study.sweep_seeds`, not among the final seeds) for :attr:`Study.sweep_steps`;
   :func:`best_lr` picks the rate with the largest area under the held-out accuracy curve
   (near-ties, within 0.01, go to the lower area under the held-out loss on the predictable part,
   which moves before accuracy does);
2. **seeds**: the final seeds at that rate for :attr:`Study.steps`, held-out metrics every
   :attr:`Study.every` steps.

:func:`run_study` keeps at most ``workers`` runs going at once, a configuration's seed runs
before the next configuration's sweep, and saves the file after every finished run, so an
interrupted study is usable as it stands and ``resume=True`` trains only what is missing.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import asdict, dataclass
from pathlib import Path

from spark_edu.chapters.spark_model.training import RunConfig, label, train_run
from spark_edu.model import SparkConfig, preset
from spark_edu.pool import job_pool
from spark_edu.results import data_dir, write_atomic

CONVERGENCE = "convergence.json"  # the saved file's name in the chapter's data folder
LONG_CONVERGENCE = "convergence_long.json"  # the longer study of the slow configurations (LONG_STUDY)


def _config(*components: str, wiring: str = "replace") -> SparkConfig:
    return preset("original", components=components, spd_wiring=wiring)


#: In the order they are trained (what a partial study holds first). "SPD" is the original's wiring.
CONFIGS = {
    label(c): c
    for c in (
        _config(),
        _config("spd", wiring="residual"),
        _config("spd"),
        _config("fk"),
        _config("fk", "spd", wiring="residual"),
        _config("fk", "spd", "verifier", wiring="residual"),
        _config("fk", "spd", "verifier"),
        _config("fk", "spd"),
        _config("fk", "verifier"),
        _config("spd", "verifier", wiring="residual"),
        _config("spd", "verifier"),
        _config("spd", wiring="residual_ln"),
        _config("verifier"),
    )
}


@dataclass(frozen=True)
class Study:
    """Rates, seeds and budgets of the saved study (the full one; :data:`QUICK_STUDY` for tests)."""

    lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    sweep_seeds: tuple[int, ...] = (100,)
    sweep_steps: int = 200
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    steps: int = 500
    every: int = 50  # held-out evaluation interval (steps)
    n_test: int = 200  # held-out sequences per seed
    names: tuple[str, ...] = tuple(CONFIGS)


#: The slow configurations (FK attention, the SPD router as wired, the full model) at six times the
#: budget, rates chosen by a 1000-step sweep: do they learn late, or not at all? The standard model
#: and SPD(res) are trained beside them as references at the same budget.
LONG_STUDY = Study(
    sweep_steps=1000,
    steps=3000,
    every=100,
    names=("none", "FK", "SPD", "SPD(res)", "FK+SPD(res)", "FK+SPD", "FK+verifier", "FK+SPD+verifier"),
)

QUICK_STUDY = Study(lrs=(1e-3, 3e-3), sweep_steps=20, seeds=(0, 1), steps=30, every=10, n_test=40, names=("none", "FK"))


def run_record(name: str, seed: int, lr: float, steps: int, every: int, n_test: int) -> dict:
    """One run of configuration ``name``: its held-out curve and a summary of its training."""
    run = RunConfig(steps=steps, evals=steps // every, n_test=n_test, lr=lr)
    r = train_run(CONFIGS[name], seed, run)
    losses, norms = r["losses"], r["grad_norms"]
    return {
        "label": name,
        "seed": seed,
        "lr": lr,
        "steps": steps,
        "parameters": r["parameters"],
        "curve": [{k: round(v, 5) if isinstance(v, float) else v for k, v in p.items()} for p in r["curve"]],
        "train_loss": [round(statistics.fmean(losses[i : i + every]), 5) for i in range(0, steps, every)],
        "grad_norm_max": max(norms),
        "grad_norm_median": statistics.median(norms),
        "finite": all(x == x and abs(x) != float("inf") for x in losses + norms),
        "fk_q_max": max((b["q"] for b in r["fk_bounds"]), default=None),
        "seconds_per_step": r["seconds_per_step"],
        "load_average": os.getloadavg(),
    }


def _job(args) -> dict:
    return run_record(*args)


def area(record: dict, metric: str = "acc_predictable") -> float:
    """Mean of a held-out metric over the evaluations of a run (area under its curve / steps)."""
    return statistics.fmean(p[metric] for p in record["curve"])


#: Held-out accuracy (about five times chance) a sweep run must reach after step 0 to rank rates.
SWEEP_FLOOR = 0.1


def leaves_chance(sweep: list[dict], floor: float = SWEEP_FLOOR) -> bool:
    """Whether any run of ``sweep`` lifts held-out accuracy to ``floor`` after step 0."""
    return max(p["acc_predictable"] for r in sweep for p in r["curve"][1:]) >= floor


def best_lr(sweep: list[dict], fallback: float = RunConfig().lr, floor: float = SWEEP_FLOOR) -> float:
    """The rate with the largest mean area under the accuracy curve over the selection seeds;
    among rates within 0.01 of it, the one with the lowest area under the predictable loss.

    A sweep in which no rate lifts held-out accuracy to ``floor`` (about five times chance) after
    step 0 cannot tell the rates apart; it returns ``fallback``, the original's rate (also the
    standard model's best), instead of a pick decided by noise.
    """
    rates = sorted({r["lr"] for r in sweep})
    if not leaves_chance(sweep, floor):
        return fallback
    acc = {lr: statistics.fmean(area(r) for r in sweep if r["lr"] == lr) for lr in rates}
    loss = {lr: statistics.fmean(area(r, "loss_predictable") for r in sweep if r["lr"] == lr) for lr in rates}
    top = max(acc.values())
    return min((lr for lr in rates if acc[lr] >= top - 0.01), key=lambda lr: loss[lr])


def load_study(path: Path | str | None = None) -> dict | None:
    """The saved study (``convergence.json`` in the chapter's data folder), or None."""
    path = data_dir("spark_model") / CONVERGENCE if path is None else Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def run_study(
    study: Study = Study(),
    path: Path | str | None = None,
    workers: int = 1,
    resume: bool = False,
    rates: dict[str, float] | None = None,
) -> dict:
    """Train the study (see the module docstring); returns its content.

    ``path`` (if given) is saved after every run and, with ``resume``, read first. ``rates``
    (configuration -> learning rate) skips the sweep and trains the seeds at those rates.
    """
    unknown = [n for n in study.names if n not in CONFIGS]
    if unknown:
        raise ValueError(f"names must be among {list(CONFIGS)}, got {unknown}")
    old = load_study(path) if resume and path is not None else None
    if old is not None and {**old["study"], "names": sorted(old["study"]["names"])} != json.loads(
        json.dumps({**asdict(study), "names": sorted(study.names)})
    ):
        raise ValueError(f"--resume: {path} was made with other settings: {old['study']}")
    out = old or {"study": asdict(study), "sweep": [], "runs": [], "best_lr": dict(rates or {}), "command": ""}
    long = " --long" if path is not None and Path(path).name == LONG_CONVERGENCE else ""
    out["command"] = f"python -m spark_edu run spark_model --convergence{long}" + (
        f" --workers {workers}" if workers > 1 else ""
    )
    started = time.perf_counter() - out.get("seconds", 0.0)
    done = {(r["label"], r["seed"], r["lr"], r["steps"]) for r in out["sweep"] + out["runs"]}
    sweeps = [(n, s, lr, study.sweep_steps) for n in study.names for lr in study.lrs for s in study.sweep_seeds]
    pending = [j for j in sweeps if j not in done] if rates is None else []

    def save() -> None:
        out["seconds"] = time.perf_counter() - started
        out["workers"], out["threads_per_run"] = workers, 1
        out["load_average"] = os.getloadavg()
        out["complete"] = all(  # every configuration has its rate and every seed run at it
            n in out["best_lr"] and all((n, s, out["best_lr"][n], study.steps) in done for s in study.seeds)
            for n in study.names
        )
        if path is not None:
            write_atomic(path, json.dumps(out, indent=0))

    def finals() -> list[tuple]:  # seed runs of every configuration whose sweep is complete
        jobs = []
        for n in study.names:
            sweep = [r for r in out["sweep"] if r["label"] == n]
            if rates is None and len(sweep) == len(study.lrs) * len(study.sweep_seeds):
                out["best_lr"][n] = best_lr(sweep)
            if n in out["best_lr"]:
                jobs += [(n, s, out["best_lr"][n], study.steps) for s in study.seeds]
        return [j for j in jobs if j not in done and j not in running.values()]

    running: dict = {}
    with job_pool(workers) as pool:
        while True:
            queue = finals() + [j for j in pending if j not in running.values()]
            while queue and len(running) < max(1, workers):
                job = queue.pop(0)
                running[pool.submit(_job, (*job, study.every, study.n_test))] = job
                if job in pending:
                    pending.remove(job)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                record = future.result()
                (out["sweep"] if job[3] == study.sweep_steps and job[1] in study.sweep_seeds else out["runs"]).append(
                    record
                )
                done.add(job)
            finals()
            save()
    save()
    return out
