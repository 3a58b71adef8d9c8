"""The learning-rate sweep of the verifier chapter, over :func:`~spark_edu.chapters.verifier.runs.run_task`.

Every model is trained at every learning rate of ``cfg.lrs`` on the tuning language and seed
(Dyck-2, seed 0); the rate with the best validation-part accuracy (:func:`score`) is kept per
model, and every other (language, seed) is trained at it. Tasks run in ``jobs`` processes of one
thread each; results are handed on after every task, so an interrupted sweep keeps its runs and
a resumed one (``previous``) trains only what is missing.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

from spark_edu.chapters.verifier.models import ExperimentConfig, sequence_only, weights_name
from spark_edu.chapters.verifier.runs import _run_packed, run_task


def _reuse(tasks: list[tuple], previous: dict | None, done: list[dict]) -> list[tuple]:
    """Move the tasks whose run ``previous`` already holds into ``done``; return the others."""
    if previous is None:
        return tasks
    held = {(r["language"], r["seed"], r["model"], r["lr"]): r for r in previous["runs"]}
    todo = []
    for task in tasks:
        _, lang, seed, plan, _ = task
        (name, (lr,)) = next(iter(plan.items()))
        run = held.get((lang, seed, name, lr))
        if run is None:
            todo.append(task)
        else:
            done.append(
                {"language": lang, "seed": seed, "overlap": previous["overlap"][f"{lang}/{seed}"], "runs": [run]}
            )
    return todo


def _map(tasks: list[tuple], jobs: int, done: list[dict], on_task=None) -> list[dict]:
    """Run ``tasks`` in ``jobs`` processes, appending each result to ``done`` (then ``on_task(done)``)."""
    if jobs > 1 and len(tasks) > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(min(jobs, len(tasks))) as pool:
            for result in pool.imap_unordered(_run_packed, tasks):
                done.append(result)
                if on_task is not None:
                    on_task(done)
    else:
        for task in tasks:
            done.append(run_task(*task))
            if on_task is not None:
                on_task(done)
    return done


def score(run: dict) -> float:
    """What picks a learning rate: validation-part accuracy (and exact depth where it is trained)."""
    val = run["val"]
    return val["validation"] if sequence_only(run["model"]) else (val["validation"] + val["depth"]) / 2


def choose_lrs(runs: list[dict], cfg: ExperimentConfig) -> dict[str, dict[str, float]]:
    """{language: {model: rate}}: the rate of the best tuning run (first of equals), for every language."""
    chosen = {}
    for name in cfg.models:
        key = (cfg.tune_language, cfg.tune_seed, name)
        cands = [r for r in runs if (r["language"], r["seed"], r["model"]) == key]
        chosen[name] = max(cands, key=score)["lr"]  # max keeps the first of equals, the smallest rate
    return {str(lang): dict(chosen) for lang in cfg.languages}


def run_sweep(
    cfg: ExperimentConfig = ExperimentConfig(),
    jobs: int = 1,
    save_dir: str | None = None,
    lrs: dict | None = None,
    on_progress=None,
    previous: dict | None = None,
) -> dict:
    """Tune on (``cfg.tune_language``, ``cfg.tune_seed``) unless ``lrs`` fixes the rates; train every
    (language, seed) at the chosen rates (the tuning runs at those rates count as that seed's runs).

    ``on_progress(partial)``, if given, receives the results so far after every task (with
    ``"complete": False``), so an interrupted sweep keeps what it finished. ``previous`` (saved
    results of the same configuration, possibly with fewer rates) supplies the runs it already
    holds; training is deterministic, so the outcome is that of a fresh sweep."""
    start, load = time.perf_counter(), os.getloadavg()
    earlier = 0.0 if previous is None else previous["provenance"]["wall_s"]
    done: list[dict] = []

    def collect(complete: bool) -> dict:
        runs = [r for t in done for r in t["runs"]]
        return {
            "config": asdict(cfg),
            "chosen_lr": lrs,
            "complete": complete,
            "overlap": {f"{t['language']}/{t['seed']}": t["overlap"] for t in done},  # one per (language, seed)
            "runs": runs,
            "provenance": {
                "wall_s": round(earlier + time.perf_counter() - start, 1),  # all parts of a resumed sweep
                "cpu_s": round(sum(r["cpu_s"] for r in runs), 1),
                "jobs": jobs,
                "threads_per_job": 1,
                "load_average_start": [round(x, 2) for x in load],
                "load_average_end": [round(x, 2) for x in os.getloadavg()],
            },
        }

    progress = None if on_progress is None else (lambda _: on_progress(collect(False)))
    if lrs is None:
        if cfg.tune_language not in cfg.languages:
            raise ValueError(f"tune_language={cfg.tune_language} must be one of languages={cfg.languages}")
        plan = [(cfg, cfg.tune_language, cfg.tune_seed, {m: [lr]}, save_dir) for m in cfg.models for lr in cfg.lrs]
        _map(_reuse(plan, previous, done), jobs, done, progress)
        lrs = choose_lrs([r for t in done for r in t["runs"]], cfg)
    tuned = {(t["language"], t["seed"]) for t in done}
    languages = sorted(cfg.languages, key=lambda lang: lang != cfg.tune_language)  # the tuning language first
    plan = [
        (cfg, lang, s, {m: [lrs[str(lang)][m]]}, save_dir)
        for lang in languages
        for s in cfg.seeds
        if (lang, s) not in tuned
        for m in cfg.models
    ]
    _map(_reuse(plan, previous, done), jobs, done, progress)
    if save_dir is not None:
        _keep_chosen_weights(Path(save_dir), lrs, cfg)
    return collect(True)


def _keep_chosen_weights(folder: Path, chosen: dict, cfg: ExperimentConfig) -> None:
    """Keep the seed-0 verifier trained at its chosen rate as ``verifier_dyck<k>.pt``; drop the rest."""
    for lang in cfg.languages:
        for lr in cfg.lrs:
            path = folder / f"verifier_dyck{lang}_lr{lr:g}.pt"
            if not path.exists():
                continue
            if "verifier" in chosen[str(lang)] and lr == chosen[str(lang)]["verifier"]:
                path.replace(folder / weights_name(lang))
            else:
                path.unlink()


def chosen_runs(results: dict) -> list[dict]:
    """The runs at each (language, model)'s chosen learning rate: one per seed."""
    lrs = results["chosen_lr"]
    return [r for r in results["runs"] if lrs[str(r["language"])].get(r["model"]) == r["lr"]]
