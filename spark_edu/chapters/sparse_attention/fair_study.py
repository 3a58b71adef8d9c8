"""The fair resource study behind ``spark_edu/data/sparse_attention/fair_resources.json``.

For every task and model of :mod:`.fair_resources`:

1. seed ``seeds[0]`` is trained at every rate of :attr:`FairStudy.lrs`; :func:`pick_lr` takes
   the rate that reaches ``target`` held-out accuracy in the fewest steps (ties: the higher best
   accuracy, then the lower rate), or, if none reaches it, the one with the best accuracy;
2. the other seeds are trained at that rate (the seed-0 run at it is reused).

A run (:func:`run_record`) is AdamW with warm-up (:func:`spark_edu.train.train`) on one thread,
evaluated at step 0 and every ``every`` steps on a fixed held-out batch drawn from its own
generator (seed :data:`HELD_OUT_SEED`); it stops at ``target`` or at ``steps``. It records the
steps to ``target`` (None: censored at the budget), best and final accuracy, the curve against
cumulative training seconds (evaluations excluded) and cumulative FLOPs (:mod:`.fair_flops`),
the median step time and the load average. :func:`run_study` saves the file after every run,
so an interrupted study keeps its runs, and ``resume=True`` trains only what is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from spark_edu.chapters.sparse_attention.fair_flops import step_flops
from spark_edu.chapters.sparse_attention.fair_resources import (
    LEARNED_MODELS,
    MODELS,
    ROPE_MODELS,
    TASKS,
    FairConfig,
    build_model,
    loss,
    needed_key_coverage,
    task_config,
)
from spark_edu.device import one_thread
from spark_edu.pool import job_pool
from spark_edu.results import write_atomic
from spark_edu.tasks.lag_copy import accuracy, make_batch
from spark_edu.train import TrainConfig, train
from spark_edu.transformer import count_parameters
from spark_edu.validation import check_positive_int, check_range

FAIR_RESOURCES = "fair_resources.json"  # the saved file's name in the chapter's data folder
ROPE_FILE = "fair_resources_rope.json"  # the same study of the rotary-position models (--rope)
QUICK_FILE = "fair_resources_quick.json"  # where --quick writes, so it never replaces the study
HELD_OUT_SEED = 10_000  # the held-out batch's generator (training batches use the run's seed)


@dataclass(frozen=True)
class FairStudy:
    """Tasks, models, rates, seeds and budgets of the saved study (:data:`QUICK_STUDY`: a smoke run).

    The budget fits about 80 CPU-minutes if no run stops early (:func:`worst_case_seconds` with
    20-step medians at T = 1024, B = 8, one thread: dense 0.34 s, dense_local 0.36 s, sparse 0.26 s).
    """

    config: FairConfig = FairConfig()
    tasks: tuple[str, ...] = TASKS
    models: tuple[str, ...] = LEARNED_MODELS
    lrs: tuple[float, ...] = (3e-3, 1e-2, 3e-2)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 500  # budget per run
    every: int = 20  # held-out evaluation interval (steps)
    batch: int = 8
    n_test: int = 16  # held-out sequences
    target: float = 0.95
    warmup: int = 20

    def __post_init__(self):
        for name in ("steps", "every", "batch", "n_test"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("warmup", self.warmup, minimum=0)
        check_range("target", self.target, 0.0, 1.0, low_inclusive=False)
        if not self.lrs or any(not lr > 0 for lr in self.lrs):
            raise ValueError(f"lrs must be one or more positive rates, got {self.lrs!r}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ValueError(f"seeds must be distinct non-negative ints, got {self.seeds!r}")
        for name, allowed in (("tasks", TASKS), ("models", MODELS)):
            values = getattr(self, name)
            if not values or not set(values) <= set(allowed):
                raise ValueError(f"{name} must be among {allowed}, got {values!r}")


ROPE_STUDY = FairStudy(models=ROPE_MODELS)  # saved as ROPE_FILE
QUICK_STUDY = FairStudy(
    FairConfig(length=128, block_size=8), lrs=(1e-2, 3e-2), seeds=(0, 1), steps=30, every=10, batch=4, n_test=8
)


def file_name(rope: bool = False, quick: bool = False, steps: int = FairStudy.steps) -> str:
    """Where a study is saved: :data:`FAIR_RESOURCES`, :data:`ROPE_FILE` or :data:`QUICK_FILE`
    (``_rope`` added for the rotary models), with ``_<steps>steps`` for a budget other than the
    default, so a longer study never replaces the saved one."""
    check_positive_int("steps", steps)
    name = QUICK_FILE if quick else FAIR_RESOURCES
    stem = name.removesuffix(".json") + "_rope" * rope + f"_{steps}steps" * (steps != FairStudy.steps and not quick)
    return stem + ".json"


def worst_case_seconds(spec: FairStudy, step_seconds: dict[str, float], eval_seconds: float) -> float:
    """CPU seconds of ``spec`` if no run stops early: per (task, model), ``len(lrs) + len(seeds) − 1``
    runs of ``steps`` steps at ``step_seconds[model]``, each evaluated ``steps // every + 1`` times."""
    missing = set(spec.models) - set(step_seconds)
    if missing:
        raise ValueError(f"step_seconds must give every model of the study, missing {sorted(missing)}")
    runs = len(spec.lrs) + len(spec.seeds) - 1
    per_run = {m: spec.steps * step_seconds[m] + (spec.steps // spec.every + 1) * eval_seconds for m in spec.models}
    return len(spec.tasks) * runs * sum(per_run.values())


class _Reached(Exception):
    """Raised from ``on_step`` to end a run once held-out accuracy reaches the target."""


def run_record(task: str, model_name: str, seed: int, lr: float, spec: FairStudy) -> dict:
    """Train one run (see the module docstring) and return its record."""
    data = task_config(task, spec.config, spec.batch)
    held = make_batch(task_config(task, spec.config, spec.n_test), torch.Generator().manual_seed(HELD_OUT_SEED))
    model = build_model(model_name, spec.config, seed)
    flops = step_flops(model_name, spec.config, spec.batch)["total"]
    curve, times = [], []

    def evaluate(step: int) -> float:
        model.eval()
        with torch.no_grad():
            acc = round(accuracy(model(held[0]), held[1]), 5)
        curve.append({"step": step, "accuracy": acc, "seconds": round(sum(times), 4), "flops": step * flops})
        return acc

    with one_thread():
        load_start, threads = os.getloadavg(), torch.get_num_threads()
        evaluate(0)
        last = time.perf_counter()

        def on_step(s) -> None:
            nonlocal last
            times.append(time.perf_counter() - last)
            if (s.step % spec.every == 0 or s.step == spec.steps) and evaluate(s.step) >= spec.target:
                raise _Reached
            last = time.perf_counter()

        config = TrainConfig(steps=spec.steps, lr=lr, warmup_steps=spec.warmup, seed=seed)
        with contextlib.suppress(_Reached):
            train(model, lambda g: make_batch(data, g), loss, config, on_step=on_step)
    accs = [p["accuracy"] for p in curve]
    return {
        "task": task,
        "model": model_name,
        "seed": seed,
        "lr": lr,
        "budget": spec.steps,
        "steps": curve[-1]["step"],
        "steps_to_target": next((p["step"] for p in curve if p["accuracy"] >= spec.target), None),
        "best_accuracy": max(accs),
        "final_accuracy": accs[-1],
        "curve": curve,
        "step_seconds_median": statistics.median(times),
        "step_flops": flops,
        "parameters": count_parameters(model),
        "threads": threads,
        "load_average": [load_start, os.getloadavg()],
    }


def pick_lr(sweep: list[dict]) -> float:
    """The rate of the run reaching the target soonest (ties: best accuracy, then the lower rate),
    else the rate of the run with the best accuracy (ties: the lower rate)."""
    if not sweep:
        raise ValueError("sweep must hold at least one run")
    reached = [r for r in sweep if r["steps_to_target"] is not None]
    if reached:
        return min(reached, key=lambda r: (r["steps_to_target"], -r["best_accuracy"], r["lr"]))["lr"]
    return min(sweep, key=lambda r: (-r["best_accuracy"], r["lr"]))["lr"]


def load_study(path: Path | str) -> dict | None:
    """The saved study at ``path``, or None when there is none."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def _job(args) -> dict:
    return run_record(*args)


def run_study(
    spec: FairStudy = FairStudy(),
    path: Path | str | None = None,
    workers: int = 1,
    resume: bool = False,
    command: str = "",
    progress=None,
) -> dict:
    """Train the study (see the module docstring); returns its content, saved at ``path`` after
    every run. ``resume`` keeps the runs of an earlier file made with the same ``spec``;
    ``progress`` (if given) is called with one line per finished run."""
    check_positive_int("workers", workers)
    settings = json.loads(json.dumps(asdict(spec)))
    old = load_study(path) if resume and path is not None else None
    if old is not None and old["study"] != settings:
        raise ValueError(f"--resume: {path} was made with other settings: {old['study']}")
    out = old or {"study": settings, "runs": [], "best_lr": {}}
    out["command"] = command
    out["coverage"] = {t: needed_key_coverage(spec.config, t) for t in spec.tasks}
    started = time.perf_counter() - out.get("seconds", 0.0)
    done = {(r["task"], r["model"], r["seed"], r["lr"]) for r in out["runs"]}
    pairs = [(t, m) for t in spec.tasks for m in spec.models]
    running: dict = {}

    def ready() -> list[tuple]:  # jobs that may start now, a pair's seeds before the next pair's sweep
        jobs = []
        for t, m in pairs:
            sweep = [r for r in out["runs"] if (r["task"], r["model"], r["seed"]) == (t, m, spec.seeds[0])]
            sweep = [r for r in sweep if r["lr"] in spec.lrs]
            if {r["lr"] for r in sweep} == set(spec.lrs):
                out["best_lr"][f"{t}/{m}"] = lr = pick_lr(sweep)
                jobs += [(t, m, s, lr) for s in spec.seeds[1:]]
            else:
                jobs += [(t, m, spec.seeds[0], lr) for lr in spec.lrs]
        return [j for j in jobs if j not in done and j not in running.values()]

    def save() -> None:
        out["seconds"] = time.perf_counter() - started
        out["workers"], out["load_average"] = workers, os.getloadavg()
        out["complete"] = all(
            f"{t}/{m}" in out["best_lr"] and all((t, m, s, out["best_lr"][f"{t}/{m}"]) in done for s in spec.seeds)
            for t, m in pairs
        )
        if path is not None:
            write_atomic(path, json.dumps(out, indent=0))

    with job_pool(workers) as pool:
        while True:
            for job in ready()[: workers - len(running)]:
                running[pool.submit(_job, (*job, spec))] = job
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                record = future.result()
                out["runs"].append(record)
                done.add(job)
                if progress is not None:
                    reached = record["steps_to_target"]
                    progress(
                        f"{job[0]}/{job[1]} seed {job[2]} lr {job[3]:g}: best {record['best_accuracy']:.3f}, "
                        f"{'reached at ' + str(reached) if reached else 'censored at ' + str(record['steps'])} steps, "
                        f"{1e3 * record['step_seconds_median']:.0f} ms/step"
                    )
            ready()
            save()
    save()
    return out
