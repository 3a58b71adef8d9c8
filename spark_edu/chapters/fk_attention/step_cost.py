"""What one training step of the study's models costs: FK attention against standard attention.

For each cell of the steps-to-accuracy study (:data:`~spark_edu.chapters.fk_attention.study.CELLS`),
:func:`measure_step_cost` builds the cell's transformer with standard attention and with each FK
variant of :data:`FK_VARIANTS` (:func:`~spark_edu.chapters.fk_attention.steps.variant_model`, the
same parameters), and times a training step as :func:`spark_edu.train.train` takes it (forward,
cross-entropy at the answering position, backward, gradient clipping, AdamW) on one fixed batch of
the study's size. Every model runs back to back in each round, the order alternating
(:func:`spark_edu.measure.paired_times`); a row's ``ratio`` is the median, with the interquartile
range, of per-round time(FK) / time(standard) (:func:`spark_edu.measure.paired_ratio`).
``python -m spark_edu run fk_attention --step-cost-only`` writes one run to ``step_cost.json``
(:func:`save_step_cost`), which :func:`load_step_cost` reads back: it holds timings, so run it alone.
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

import torch
import torch.nn.functional as F

from spark_edu import results
from spark_edu.chapters.fk_attention.steps import StepsSetting, held_out, variant_model
from spark_edu.chapters.fk_attention.study import CELLS
from spark_edu.device import describe_environment, threads
from spark_edu.display import Table
from spark_edu.measure import paired_ratio, paired_times
from spark_edu.validation import check_positive_int

STEP_COST_FILE = "step_cost.json"
STANDARD = "standard"
#: The FK variants timed: β does not change the work of the exact solve, so one fixed β stands for the sweep.
FK_VARIANTS = ("fk β=0.5", "fk learned β", "fk no-self β=0.5")


def training_step(model: torch.nn.Module, batch, lr: float = 1e-3, steps: int = 1):
    """A callable that takes ``steps`` training steps of ``model`` on ``batch`` (tokens (B, T), labels (B,))."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    x, y = batch
    model.train()

    def step() -> None:
        for _ in range(steps):
            loss = F.cross_entropy(model(x)[:, -1], y)  # the last position answers, as in the study
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    return step


def measure_step_cost(
    cells=tuple(CELLS), variants=FK_VARIANTS, rounds: int = 9, warmup: int = 1, steps_per_call: int = 3, seed: int = 0
) -> list[dict]:
    """One row per (cell, FK variant): median ms per step of both models and the paired time ratio.

    ``cells`` are (task, hops, layers); each call of a timed model runs ``steps_per_call`` steps
    (a step of these small models takes milliseconds), on one thread (the study's setting, and
    torch's batched solve is not thread-safe with more: pytorch#142815).
    """
    check_positive_int("rounds", rounds, minimum=7)  # fewer rounds leave no meaningful IQR
    check_positive_int("steps_per_call", steps_per_call)
    setting = StepsSetting()
    rows = []
    with threads(1):
        for task, hops, layers in cells:
            batch = held_out(
                task, hops, seed, replace(setting, eval_size=setting.batch)
            )  # one batch of the study's size
            fns = {}
            for name in (STANDARD, *variants):
                torch.manual_seed(seed)
                fns[name] = training_step(variant_model(name, task, hops, layers, setting), batch, steps=steps_per_call)
            times = paired_times(fns, rounds=rounds, warmup=warmup)
            for name in variants:
                r = paired_ratio(times, name, STANDARD)  # time(FK) / time(standard), per round
                rows.append(
                    {
                        "cell": cell_label(task, hops, layers),
                        "variant": name,
                        "standard_ms": 1e3 * statistics.median(times[STANDARD]) / steps_per_call,
                        "fk_ms": 1e3 * statistics.median(times[name]) / steps_per_call,
                        "ratio": r.median,
                        "q1": r.q1,
                        "q3": r.q3,
                        "rounds": rounds,
                        "steps_per_call": steps_per_call,
                    }
                )
    return rows


def cell_label(task: str, hops: int, layers: int) -> str:
    return f"{task} k={hops} L={layers}"


def format_step_cost(rows: list[dict]) -> Table:
    """A book table: per (cell, FK variant), ms per training step of each model and the ratio [IQR]."""
    table_rows = [[r["cell"], r["variant"], r["standard_ms"], r["fk_ms"], (r["ratio"], r["q1"], r["q3"])] for r in rows]
    caption = (
        f"one training step (batch {StepsSetting().batch}), {rows[0]['rounds']} paired rounds, 1 thread; "
        "ratio: median [IQR] of per-round time(FK) / time(standard)"
    )
    columns = ["cell", "FK variant", "standard ms", "FK ms", "ratio [IQR]"]
    return Table(table_rows, columns, {"standard ms": ".2f", "FK ms": ".2f", "ratio [IQR]": ".2f"}, caption)


def save_step_cost(rows: list[dict], path: Path | str, wall_s: float) -> Path:
    """Write a :func:`measure_step_cost` run with the command, wall time, date, machine and load."""
    record = {
        "command": "python -m spark_edu " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "wall_s": round(wall_s, 1),
        "date": datetime.date.today().isoformat(),
        "environment": describe_environment() | {"threads": "1", "cpu_count": str(os.cpu_count())},
        "load_average": [round(x, 2) for x in os.getloadavg()],  # at the end of the run
        "rows": rows,
    }
    return results.write_atomic(path, json.dumps(record, indent=1))


def load_step_cost(path: Path | str | None = None) -> dict | None:
    """The saved run (``step_cost.json`` in the chapter's data folder by default), or None if there is none."""
    path = results.data_dir("fk_attention") / STEP_COST_FILE if path is None else Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def timed_step_cost(**kwargs) -> tuple[list[dict], float]:
    """:func:`measure_step_cost` and its wall time in seconds."""
    start = time.perf_counter()
    rows = measure_step_cost(**kwargs)
    return rows, time.perf_counter() - start
