"""Experiments for the verifier-head chapter: a stack-augmented model against a standard
transformer of the same size and training budget, on Dyck-1 and Dyck-2.

The models (:mod:`spark_edu.chapters.verifier.models`) are trained on exactly the same
batches with :func:`spark_edu.verifier.verifier_loss` and measured on the same test strings
for two tasks: **validation** (is the string balanced? accuracy of the sequence logit) and
**depth** (the fraction of strings whose nesting depth is predicted exactly at every
position). Then length and depth generalisation: train on short, shallow strings, test on
longer or deeper ones.

``python -m spark_edu run verifier`` runs the full comparison (3 seeds, two processes, about
20 minutes on 2 cores) and writes ``results.json`` and the seed-0 verifiers' weights, which
the chapter reads from ``spark_edu/data/verifier/`` through :func:`load_results`.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import nn

from spark_edu import results as saved
from spark_edu.chapters.verifier.models import (
    MODELS,
    QUICK,
    TASKS,
    ExperimentConfig,
    build_models,
    predictions,
    weights_name,
)
from spark_edu.claims import Measurement
from spark_edu.device import one_thread
from spark_edu.measure import mean_interval
from spark_edu.tasks import dyck
from spark_edu.tasks.dyck import DyckBatch, DyckConfig
from spark_edu.train import TrainConfig, train
from spark_edu.transformer import count_parameters
from spark_edu.verifier import verifier_loss


def train_model(model: nn.Module, cfg: ExperimentConfig, language: int, seed: int):
    """Train on fresh balanced batches of short, shallow strings; returns the history."""
    data = replace(cfg.train, n_types=language)

    def make_batch(g):
        return dyck.make_dataset(cfg.batch_size, data, g)

    def loss_fn(m, batch):
        depth, step, valid = predictions(m, batch)
        return verifier_loss(depth, step, valid, batch.depth, batch.prefix_ok, batch.valid, batch.mask)

    return train(
        model,
        make_batch,
        loss_fn,
        TrainConfig(steps=cfg.steps, lr=cfg.lr, seed=seed, warmup_steps=50),
        desc=f"Dyck-{language}",
    )


@torch.no_grad()
def evaluate(model: nn.Module, batch: DyckBatch, hard: bool = False, chunk: int = 250) -> dict[str, float]:
    """Validation accuracy and exact-depth accuracy (every position right) over ``batch``."""
    model.eval()
    right_valid, right_depth = [], []
    for i in range(0, len(batch.strings), chunk):
        part = dyck.encode(batch.strings[i : i + chunk])
        depth, _, valid = predictions(model, part, hard)
        right_valid.append((valid > 0) == part.valid)
        ok = (depth.round() == part.depth) | ~part.mask
        right_depth.append(ok.all(dim=1))
    return {
        "validation": torch.cat(right_valid).float().mean().item(),
        "depth": torch.cat(right_depth).float().mean().item(),
    }


def probe_sets(cfg: ExperimentConfig, language: int, seed: int) -> dict[str, dict[int, DyckBatch]]:
    """Test sets for generalisation: by length (depth ≤ the training maximum) and by depth."""
    g = torch.Generator().manual_seed(10_000 + seed)
    shallow = cfg.train.max_depth
    by_length = {
        n: dyck.make_dataset(cfg.n_probe, DyckConfig(language, n, n, 1, shallow), g) for n in cfg.probe_lengths
    }
    by_depth = {
        d: dyck.make_dataset(cfg.n_probe, DyckConfig(language, 2 * d, max(2 * d, 2 * d + 8), d, d), g)
        for d in cfg.probe_depths
    }
    return {"length": by_length, "depth": by_depth}


@one_thread()
def run_one(cfg: ExperimentConfig, language: int, seed: int, save_dir: str | None = None) -> dict:
    """Train every model for one (language, seed) on one thread; evaluate in distribution and on the probes.

    With ``save_dir``, the trained verifier of seed 0 is saved there (``verifier_dyck<k>.pt``)."""
    models = build_models(cfg, seed)
    test = dyck.make_dataset(
        cfg.n_test, replace(cfg.train, n_types=language), torch.Generator().manual_seed(1_000 + seed)
    )
    probes = probe_sets(cfg, language, seed)
    record = {"language": language, "seed": seed}
    for name, model in models.items():
        if name not in cfg.models:
            continue
        history = train_model(model, cfg, language, seed)
        if save_dir is not None and seed == 0 and name == "verifier":
            torch.save(model.state_dict(), Path(save_dir) / weights_name(language, name))
        for hard in (False, True) if name != "standard" else (False,):  # hard: discrete stack at test time
            record[name + ("_hard" if hard else "")] = {
                "parameters": count_parameters(model),
                "final_loss": history.final_loss,
                "test": evaluate(model, test, hard),
                "by_length": {n: evaluate(model, b, hard) for n, b in probes["length"].items()},
                "by_depth": {d: evaluate(model, b, hard) for d, b in probes["depth"].items()},
            }
    return record


def run_all(cfg: ExperimentConfig = ExperimentConfig(), jobs: int = 1, save_dir: str | None = None) -> dict:
    """Every (language, seed) of ``cfg``, in ``jobs`` processes; JSON-ready."""
    tasks = [(cfg, lang, seed, save_dir) for lang in cfg.languages for seed in cfg.seeds]
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            runs = pool.starmap(run_one, tasks)
    else:
        runs = [run_one(*t) for t in tasks]
    return {"config": asdict(cfg), "runs": runs}


def load_results(path: str | Path | None = None) -> dict:
    """The saved full comparison: ``results.json`` shipped with the package, or the one at ``path``."""
    if path is None:
        return saved.load_json("verifier", "results.json")
    return json.loads(Path(path).read_text())


def accuracy_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over seeds, clipped to [0, 1]."""
    return mean_interval(values, 0.0, 1.0)


def summary(results: dict, models: tuple[str, ...] | None = None) -> list[dict]:
    """One row per (language, task, model): mean accuracy and 95% interval over seeds."""
    models = tuple(m for m in MODELS if m in results["runs"][0]) if models is None else models
    rows = []
    for lang in sorted({r["language"] for r in results["runs"]}):
        runs = [r for r in results["runs"] if r["language"] == lang]
        for task in TASKS:
            for model in models:
                m, lo, hi = accuracy_interval([r[model]["test"][task] for r in runs])
                rows.append(
                    {
                        "language": lang,
                        "task": task,
                        "model": model,
                        "mean": m,
                        "low": lo,
                        "high": hi,
                        "seeds": len(runs),
                        "parameters": runs[0][model]["parameters"],
                    }
                )
    return rows


def curve(results: dict, language: int, model: str, probe: str, task: str) -> tuple[list[int], list[tuple]]:
    """Accuracy vs length (``probe="by_length"``) or depth, mean and interval over seeds."""
    runs = [r for r in results["runs"] if r["language"] == language]
    keys = sorted(int(k) for k in runs[0][model][probe])
    pts = [
        accuracy_interval([r[model][probe][k if k in r[model][probe] else str(k)][task] for r in runs]) for k in keys
    ]
    return keys, pts


def measurements(results: dict) -> list[Measurement]:
    """The three claims of section 3, from the summary: ranges over (language, task)."""
    rows = summary(results)
    by = {(r["language"], r["task"], r["model"]): r for r in rows}
    cells = sorted({(r["language"], r["task"]) for r in rows})
    n_seeds, n_test = rows[0]["seeds"], results["config"]["n_test"]
    detail = (
        f"the report never defines its depth metric, so its ranges over tasks cannot be computed as stated; "
        f"ours: range over {len(cells)} (language, task) cells, {n_seeds} seeds × {n_test} test strings each"
    )
    out = []
    for key, model in (
        ("spark.verifier.standard_accuracy", "standard"),
        ("spark.verifier.verifier_accuracy", "verifier"),
    ):
        means = [by[c + (model,)]["mean"] for c in cells]
        out.append(Measurement(key, statistics.fmean(means), min(means), max(means), as_stated=False, reason=detail))
    diffs = [by[c + ("verifier",)]["mean"] - by[c + ("standard",)]["mean"] for c in cells]
    out.append(
        Measurement(
            "spark.verifier.improvement",
            statistics.fmean(diffs),
            min(diffs),
            max(diffs),
            as_stated=False,
            reason=detail,
        )
    )
    return out


def reproduce(quick: bool = False) -> list[Measurement]:
    """Measure every ``spark.verifier.*`` claim (quick: Dyck-2 only, 2 seeds, 300 steps, no third model)."""
    return measurements(run_all(QUICK if quick else ExperimentConfig()))
