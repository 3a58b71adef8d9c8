"""The chapter's saved run: what ``python -m spark_edu run spd_router`` computes, writes and the
chapter reads (``spark_edu/data/spd_router/stationary.json`` and ``nonstationary.json``).

:func:`run_all` tunes each router's learning rate on a validation set (:func:`tune_lr`, the rates of
:data:`LEARNING_RATES`, seed 0; once at σ = :data:`TUNE_LEVEL` for the stationary sweep, per condition for the
non-stationary runs), then trains it at the chosen rate over the seeds, beside every fixed
filter and the LMMSE; it also trains the learned-basis router three times longer on each
non-stationary condition (seed 0), to show which way more training moves it. Each file records
how it was made (command, settings, wall time, threads, load average).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import time
from importlib import resources
from pathlib import Path

import torch

from spark_edu.chapters.spd_router.experiments import (
    FULL,
    LEARNING_RATES,
    ROUTERS,
    BASIS_OF,
    SweepConfig,
    fit_router,
    noise_sweep,
    router_estimate,
    tune_lr,
)
from spark_edu.chapters.spd_router.nonstationary import (
    CONDITIONS,
    MIXED_NAME,
    condition_batch,
    condition_run,
    held_out_signals,
    linear_estimates,
    scores,
)
from spark_edu.chapters.spd_router.prototype import NOISE_LEVELS
from spark_edu.device import describe_environment, one_thread
from spark_edu.results import write_atomic
from spark_edu.tasks.signals import sinusoid_mixture

COMMAND = "python -m spark_edu run spd_router"
TUNE_LEVEL = 0.5  # the stationary sweep's learning rates are chosen at this noise level
VALIDATION_SEED = 40_000  # validation signals for the learning-rate choice; tests use 10 000 + seed


def data_folder() -> Path:
    """``spark_edu/data/spd_router`` inside the installed package."""
    return Path(str(resources.files("spark_edu") / "data" / "spd_router"))


def load_results(folder: Path | str | None = None) -> dict | None:
    """The saved parts ``{"stationary": …, "nonstationary": …}`` (default: the package's copy),
    or None when a part is missing."""
    folder = data_folder() if folder is None else Path(folder)
    paths = {part: folder / f"{part}.json" for part in PARTS}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {part: json.loads(p.read_text()) for part, p in paths.items()}


def tuned_rates(section: dict) -> dict:
    """{(noise level, router): rate} of a saved stationary section (every level gets the rate tuned
    at :data:`TUNE_LEVEL`), or {router: rate} of a non-stationary condition."""
    tuning = section["tuning"]
    if "noise" not in tuning[0]:
        return {t["router"]: t["lr"] for t in tuning}
    return {(level, t["router"]): t["lr"] for t in tuning for level in NOISE_LEVELS}


def _validation(make_test):
    return make_test(torch.Generator().manual_seed(VALIDATION_SEED))


def stationary(config: SweepConfig, seeds, rates) -> dict:
    """Tune both routers at :data:`TUNE_LEVEL`, then the sweep over every level at the chosen rates."""
    tuning = []
    for level in (TUNE_LEVEL,):

        def batches(g, level=level):
            return sinusoid_mixture(config.batch, config.length, config.n_components, level, g, config.cycles)

        validation = _validation(
            lambda g, level=level: sinusoid_mixture(512, config.length, config.n_components, level, g, config.cycles)
        )
        for name in ROUTERS:
            best, by_rate = tune_lr(batches, validation, BASIS_OF[name], config, rates)
            by_rate = {str(k): v for k, v in by_rate.items()}
            tuning.append({"noise": level, "router": name, "lr": best, "scores": by_rate})
    section = {"tuning": tuning}
    section["records"] = noise_sweep(NOISE_LEVELS, tuple(seeds), config, lrs=tuned_rates(section))
    return section


def nonstationary(condition: str, config: SweepConfig, seeds, rates) -> dict:
    """Tune both routers on ``condition``, run it over the seeds, and train the learned router 3× longer."""

    def batches(g):
        return condition_batch(condition, config.batch, g, config)

    validation = _validation(lambda g: condition_batch(condition, 512, g, config))
    tuning = []
    for name in ROUTERS:
        best, by_rate = tune_lr(batches, validation, BASIS_OF[name], config, rates)
        tuning.append({"router": name, "lr": best, "scores": {str(k): v for k, v in by_rate.items()}})
    section = {"tuning": tuning}
    lrs = tuned_rates(section)
    section["records"] = condition_run(condition, tuple(seeds), config, lrs)
    longer = dataclasses.replace(config, steps=3 * config.steps)
    router = fit_router(batches, 0, "learned", longer, lrs[ROUTERS[0]])
    test = held_out_signals(condition, 0, config)
    section["longer"] = {
        "steps": longer.steps,
        "router": scores(condition, test, router_estimate(router, test.noisy)),
        MIXED_NAME: scores(condition, test, linear_estimates(condition, test, config)[MIXED_NAME]),
    }
    return section


PARTS = ("stationary", "nonstationary")


@one_thread()
def run_all(
    config: SweepConfig = FULL, seeds=range(5), rates=LEARNING_RATES, command: str = COMMAND, parts=PARTS
) -> dict:
    """Everything the chapter reads (the ``parts`` asked for), each part with how it was made."""
    out = {}
    for part in parts:
        if part not in PARTS:
            raise ValueError(f"parts must be among {PARTS}, got {part!r}")
        start, load_start = time.perf_counter(), os.getloadavg()
        if part == "stationary":
            out[part] = stationary(config, seeds, rates)
        else:
            out[part] = {c: nonstationary(c, config, seeds, rates) for c in CONDITIONS}
        out[part]["made"] = {
            "command": command,
            "date": datetime.date.today().isoformat(),
            "seeds": list(seeds),
            "steps": config.steps,
            "learning_rates": list(rates),
            "wall_seconds": round(time.perf_counter() - start, 1),
            "threads": 1,
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "environment": describe_environment(),
        }
    return out


def save(results: dict, folder: Path | str) -> list[Path]:
    """Write each part of ``results`` as ``folder/<part>.json`` (atomically)."""
    return [write_atomic(Path(folder) / f"{part}.json", json.dumps(results[part], indent=1)) for part in results]
