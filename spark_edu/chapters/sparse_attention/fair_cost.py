"""What one training step of each model of :mod:`.fair_resources` costs, measured apart from training.

Per length (default T = 1024 and 2048, the study's batch of 8, one thread):

* **time**: each model's whole training step (forward, backward, AdamW update) in paired
  interleaved rounds (:func:`spark_edu.measure.paired_times`: all models back to back in every
  round, the order alternating); per model the per-round ratio ``t_model / t_dense`` as median
  and interquartile range (:func:`spark_edu.measure.paired_ratio` with the model as its
  "baseline", so < 1 means faster than dense); the rotary models are divided by
  ``dense_rope`` instead (:func:`baseline`), the dense model with the same positions;
* **memory**: peak bytes allocated during one step above what was live before it
  (:func:`spark_edu.measure.peak_memory_bytes`): activations kept for backward and temporaries;
  weights, Adam state and dense_local's mask buffer live outside it, and the step frees the
  previous step's gradients before allocating its own;
* **FLOPs**: analytic (:func:`.fair_flops.step_flops`);
* **materialising dense**: the dense step's peak memory with SDPA's math backend, which stores
  the (B, H, T, T) score matrix as a plain attention does: the baseline a memory saving is
  usually quoted against (:func:`materialising_peak_mb`).

Run it on a quiet machine: ``python -m spark_edu run sparse_attention --fair-cost``.
"""

from __future__ import annotations

import os
import statistics

import torch

from spark_edu.chapters.sparse_attention.fair_flops import step_flops
from spark_edu.chapters.sparse_attention.fair_resources import (
    MODELS,
    ROPE_MODELS,
    FairConfig,
    build_model,
    loss,
    task_config,
)
from spark_edu.device import cpu_capability, threads
from spark_edu.measure import paired_ratio, paired_times, peak_memory_bytes
from spark_edu.tasks.lag_copy import make_batch
from spark_edu.train import TrainConfig, make_optimizer
from spark_edu.validation import check_positive_int

FAIR_COST = "fair_cost.json"  # the saved file's name in the chapter's data folder


def baseline(name: str) -> str:
    """The dense model ``name`` is divided by: ``dense_rope`` for the rotary models, else ``dense``."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {MODELS}, got {name!r}")
    return "dense_rope" if name in ROPE_MODELS else "dense"


def training_step(name: str, config: FairConfig, batch: int):
    """A callable doing one training step of model ``name`` on a fixed batch (the local task's shape)."""
    model = build_model(name, config, seed=0)
    optimizer = make_optimizer(model, TrainConfig(lr=1e-3))
    data = make_batch(task_config("local", config, batch), torch.Generator().manual_seed(1))
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss(model, data).backward()
        optimizer.step()

    return step


def materialising_peak_mb(config: FairConfig, batch: int) -> float:
    """Peak MB of the dense model's training step with SDPA forced to its math backend."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    step = training_step("dense", config, batch)
    with sdpa_kernel(SDPBackend.MATH):
        step()  # warm-up: Adam's state is allocated outside the measured step
        return peak_memory_bytes(step) / 2**20


def measure_costs(
    config: FairConfig = FairConfig(),
    lengths: tuple[int, ...] = (1024, 2048),
    batch: int = 8,
    rounds: int = 7,
    n_threads: int | None = 1,
) -> dict:
    """Time, peak memory and FLOPs of one training step per model and length (module docstring)."""
    check_positive_int("batch", batch)
    check_positive_int("rounds", rounds)
    if not lengths:
        raise ValueError("lengths must hold at least one length")
    with threads(n_threads):
        out = {
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cpu_capability": cpu_capability(),
            "batch": batch,
            "rounds": rounds,
            "cores": os.cpu_count(),
            "load_average": [os.getloadavg()],
            "lengths": {},
        }
        for length in lengths:
            check_positive_int("lengths", length)
            cfg = config.at(length)
            steps = {name: training_step(name, cfg, batch) for name in MODELS}
            times = paired_times(steps, rounds=rounds, warmup=1)
            peaks = {name: peak_memory_bytes(step) for name, step in steps.items()}
            rows = {}
            for name in MODELS:
                base = baseline(name)
                ratio = paired_ratio(times, name, base)  # t_name / t_base per round
                flops = step_flops(name, cfg, batch)
                rows[name] = {
                    "baseline": base,
                    "median_ms": 1e3 * statistics.median(times[name]),
                    "time_ratio": ratio.median,
                    "time_ratio_iqr": [ratio.q1, ratio.q3],
                    "peak_mb": peaks[name] / 2**20,
                    "memory_ratio": peaks[name] / peaks[base],
                    "flops": flops,
                    "flops_ratio": flops["total"] / step_flops(base, cfg, batch)["total"],
                }
            rows["dense"]["materialising_peak_mb"] = materialising_peak_mb(cfg, batch)
            out["lengths"][str(length)] = rows
        out["load_average"].append(os.getloadavg())
    return out
