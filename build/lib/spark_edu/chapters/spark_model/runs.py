"""The ablation of the SPaR-K model, the full run behind ``results.json``, and its loading.

:func:`ablation` trains every on/off combination of the three components and the
size-matched standard transformer over seeds (:func:`spark_edu.chapters.spark_model.training.train_run`
each); :func:`full_run` adds the component timings and is what ``python -m spark_edu run
spark_model`` writes to ``spark_edu/data/spark_model/results.json``; :func:`load_results`
reads it back.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from spark_edu.chapters.spark_model.timings import component_timings
from spark_edu.chapters.spark_model.training import RunConfig, label, train_run
from spark_edu.device import one_thread
from spark_edu.model import COMPONENTS, SparkConfig, matched_standard, preset
from spark_edu.results import data_dir

STANDARD = "standard (size-matched)"
RESULTS = "results.json"  # the saved file's name in the chapter's data folder


def ablation_configs(base: SparkConfig) -> dict[str, SparkConfig]:
    """All 8 on/off combinations of the components, plus the size-matched standard transformer."""
    configs = {}
    for mask in range(2 ** len(COMPONENTS) - 1, -1, -1):
        cfg = base.with_components(*[c for i, c in enumerate(COMPONENTS) if mask >> (len(COMPONENTS) - 1 - i) & 1])
        configs[label(cfg)] = cfg
    configs[STANDARD] = matched_standard(base.with_components(*COMPONENTS))
    return configs


def _job(args) -> dict:
    config, seed, run, name = args
    with one_thread():
        return {**train_run(config, seed, run), "label": name}


def ablation(
    base: SparkConfig = preset("original"),
    seeds=(0, 1, 2),
    run: RunConfig = RunConfig(),
    names: tuple[str, ...] | None = None,
    workers: int = 1,
) -> list[dict]:
    """One :func:`train_run` record per (configuration, seed); ``names`` picks configurations.

    ``workers > 1`` trains that many runs at once in separate processes (one thread each);
    every run is seeded on its own, so the records do not depend on the order.
    """
    configs = ablation_configs(base)
    if names is not None:
        unknown = [n for n in names if n not in configs]
        if unknown:
            raise ValueError(f"names must be among {list(configs)}, got {unknown}")
        configs = {n: configs[n] for n in names}
    jobs = [(cfg, seed, run, name) for name, cfg in configs.items() for seed in seeds]
    if workers <= 1:
        return [{**train_run(cfg, seed, run), "label": name} for cfg, seed, run, name in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_job, jobs))


@dataclass(frozen=True)
class FullRun:
    """Seeds and budget of the saved ablation."""

    seeds: tuple[int, ...] = (0, 1, 2)
    run: RunConfig = RunConfig(steps=300, evals=3)


QUICK = FullRun(seeds=(0, 1), run=RunConfig(steps=150, evals=3, n_test=200))


def full_run(spec: FullRun = FullRun(), timings: bool = True, workers: int = 1) -> dict:
    """The ablation at ``spec`` and (optionally) the component timings: what ``results.json`` holds."""
    started = time.perf_counter()
    records = ablation(preset("original"), spec.seeds, spec.run, workers=workers)
    out = {
        "spec": asdict(spec),
        "records": records,
        "ablation_seconds": time.perf_counter() - started,
        "workers": workers,
        "load_average": os.getloadavg(),
    }
    if timings:
        out["timings"] = component_timings()
    return out


def compact(results: dict) -> dict:
    """Round the per-step series to 5 significant digits (a file a fifth of the size)."""
    for r in results["records"]:
        for key in ("losses", "grad_norms"):
            r[key] = [float(f"{x:.5g}") for x in r[key]]
    return results


def load_results(path: Path | str | None = None) -> dict | None:
    """The saved full run (``results.json`` in :func:`spark_edu.results.data_dir`), or the one at ``path``.

    None when the file does not exist (the chapter then trains a quick ablation instead).
    """
    path = data_dir("spark_model") / RESULTS if path is None else Path(path)
    return json.loads(path.read_text()) if path.exists() else None
