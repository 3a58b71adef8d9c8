"""The runs behind the verifier chapter: data with disjoint parts, training and evaluation.

Data (:func:`datasets`): training batches are drawn from the ``"train"`` part of
:func:`spark_edu.tasks.dyck.part_of`, the validation and test sets (distinct strings) from the
``"val"`` and ``"test"`` parts, the generalisation probes from ``"test"``; so no test string is
ever trained on. :func:`overlap` counts the shared strings anyway, and what the shared count
would have been with the test set drawn the old way (same distribution, no parts).

:func:`run_task` is one task of the sweep (:mod:`spark_edu.chapters.verifier.sweep`): one
language, one seed, one model and its rates, on one thread; a worker reuses the batches of its
last (language, seed), so every model trains on exactly the same batches.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from spark_edu.chapters.verifier.models import (
    ExperimentConfig,
    VerifierModel,
    build_models,
    predictions,
    sequence_only,
    train_config,
)
from spark_edu.device import one_thread
from spark_edu.tasks import dyck
from spark_edu.tasks.dyck import DyckBatch, DyckConfig
from spark_edu.train import TrainConfig, train
from spark_edu.transformer import count_parameters
from spark_edu.verifier import verifier_loss


@lru_cache(maxsize=2)  # a worker process reuses the data of its last (language, seed)
def datasets(cfg: ExperimentConfig, language: int, seed: int) -> dict:
    """Cached training batches, the validation and test sets, and the probes for one (language, seed)."""
    data = train_config(cfg, language)
    g = torch.Generator().manual_seed(seed)
    batches = [dyck.make_dataset(cfg.batch_size, data, g, part="train") for _ in range(cfg.steps)]
    held_out = torch.Generator().manual_seed(1_000 + seed)
    out = {
        "batches": batches,
        "val": dyck.make_dataset(cfg.n_val, data, held_out, part="val", unique=True),
        "test": dyck.make_dataset(cfg.n_test, data, held_out, part="test", unique=True),
        "unsplit": dyck.make_dataset(cfg.n_test, data, torch.Generator().manual_seed(1_000 + seed)),
        "probes": {"by_length": {}, "by_depth": {}},
    }
    if cfg.probes:
        g = torch.Generator().manual_seed(10_000 + seed)
        shallow = cfg.train.max_depth
        for n in cfg.probe_lengths:
            out["probes"]["by_length"][n] = dyck.make_dataset(
                cfg.n_probe, DyckConfig(language, n, n, 1, shallow), g, part="test"
            )
        for d in cfg.probe_depths:
            out["probes"]["by_depth"][d] = dyck.make_dataset(
                cfg.n_probe, DyckConfig(language, 2 * d, 2 * d + 8, d, d), g, part="test"
            )
    return out


def overlap(data: dict) -> dict:
    """Strings shared between the training batches and each held-out set (0 by construction)."""
    seen = {s for b in data["batches"] for s in b.strings}
    test, unsplit = data["test"].strings, data["unsplit"].strings
    probes = [s for group in data["probes"].values() for b in group.values() for s in b.strings]
    return {
        "train_strings": sum(len(b.strings) for b in data["batches"]),
        "train_distinct": len(seen),
        "test_distinct": len(set(test)),
        "test_in_train": sum(s in seen for s in test),
        "val_in_train": sum(s in seen for s in data["val"].strings),
        "probes_in_train": sum(s in seen for s in probes),
        "unsplit_in_train": sum(s in seen for s in unsplit) / len(unsplit),  # fraction, the old way
        "mean_length_train": sum(len(s) for b in data["batches"] for s in b.strings)
        / sum(len(b.strings) for b in data["batches"]),
        "mean_length_test": sum(len(s) for s in test) / len(test),
    }


def loss_for(name: str):
    """The training loss of a condition: all labels, or the sequence label only."""
    only = sequence_only(name)

    def loss_fn(model, batch):
        depth, step, valid = predictions(model, batch)
        return verifier_loss(depth, step, valid, batch.depth, batch.prefix_ok, batch.valid, batch.mask, only)

    return loss_fn


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


def _measure(model: nn.Module, data: dict, hard: bool) -> dict:
    return {
        "val": evaluate(model, data["val"], hard),
        "test": evaluate(model, data["test"], hard),
        **{p: {k: evaluate(model, b, hard) for k, b in group.items()} for p, group in data["probes"].items()},
    }


def train_one(model: nn.Module, name: str, lr: float, cfg: ExperimentConfig, data: dict, seed: int) -> dict:
    """Train one condition on the cached batches; evaluate it (soft, and hard for a verifier)."""
    curve, test_at = [], {}

    def monitor(step):
        if step.step % cfg.eval_every == 0 or step.step == cfg.steps:
            curve.append([step.step, *evaluate(step.model, data["val"]).values()])
        if step.step in cfg.test_at:
            test_at[str(step.step)] = evaluate(step.model, data["test"])

    batches = iter(data["batches"])
    start = time.process_time()
    history = train(
        model,
        lambda g: next(batches),
        loss_for(name),
        TrainConfig(steps=cfg.steps, lr=lr, seed=seed, warmup_steps=50),
        desc=name,
        on_step=monitor,
    )
    record = {
        "model": name,
        "lr": lr,
        "parameters": count_parameters(model),
        "final_loss": history.final_loss,
        "curve": curve,  # [step, validation, depth] on the validation part
        **({"test_at": test_at} if cfg.test_at else {}),  # {step: test accuracies} part-way through
        **_measure(model, data, hard=False),
    }
    if isinstance(model, VerifierModel):
        record["hard"] = _measure(model, data, hard=True)
    record["cpu_s"] = time.process_time() - start
    return record


@one_thread()
def run_task(cfg: ExperimentConfig, language: int, seed: int, plan: dict, save_dir: str | None = None) -> dict:
    """Train ``plan`` = {model: [learning rates]} for one (language, seed) on one thread.

    With ``save_dir``, each seed-0 ``verifier`` is saved there as ``verifier_dyck<k>_lr<lr>.pt``."""
    data = datasets(cfg, language, seed)
    runs = []
    for name, lrs in plan.items():
        for lr in lrs:
            model = build_models(cfg, seed, (name,))[name]
            run = train_one(model, name, lr, cfg, data, seed)
            runs.append({"language": language, "seed": seed, **run})
            if save_dir is not None and seed == 0 and name == "verifier":
                torch.save(model.state_dict(), Path(save_dir) / f"verifier_dyck{language}_lr{lr:g}.pt")
    return {"language": language, "seed": seed, "overlap": overlap(data), "runs": runs}


def _run_packed(task: tuple) -> dict:
    return run_task(*task)
