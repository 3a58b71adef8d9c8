"""Modern routers measured side by side on the chapter's task (``python -m spark_edu run moe``).

Four ways to route the 8-category task's tokens, each at the same expert compute (2T expert
rows per batch of T tokens) and the same expert buffers (capacity factor 1, C = T·2/8):

* ``top-2 + Switch``     — token choice with the Switch loss (α = 0.01), the chapter's baseline;
* ``expert choice``      — experts pick their C tokens (:mod:`spark_edu.moe.expert_choice`);
* ``top-2 + bias``       — top-2 chosen by a per-expert bias moved against the load error, no
  auxiliary loss (:mod:`spark_edu.moe.bias_balancing`, update speed u from :data:`BIAS_RATES`);
* ``shared + top-1``     — one shared expert every token visits plus top-1 of 8 routed (raw
  gate, Switch loss; :mod:`spark_edu.moe.shared_expert`): two expert rows per token again.

Protocol: each method's learning rate is chosen from :data:`LRS` by the mean held-out task loss
over :data:`TUNE_SEEDS` on a *validation* set (seed :data:`VALID_SEED`). The bias router's
update speed u, the knob that exists to buy balance, is then chosen from :data:`BIAS_RATES` at
that rate by the mean validation MaxVio over the same seeds (the Switch loss keeps its paper's α
= 0.01: it is a loss weight, and trading task loss for balance is not what the comparison asks).
The chosen setting is run over :data:`SEEDS`, disjoint from the tuning seeds, and scored on the
chapter's test tokens (seed ``EVAL_SEED``), disjoint from the validation tokens.
Reported per method: MaxVio and 1 − CV² of the load the router asked for (token-choice: before
dropping; expert choice: what the experts took), specialisation of the routed experts, the share
of assignments dropped by capacity (token choice) and of tokens no routed expert processed, task
loss and accuracy, each as a mean and 95% interval over seeds.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time

import torch
import torch.nn.functional as F

from spark_edu.chapters.moe.experiments import EVAL_SEED, HEADINGS, CategoryMoEModel, moe_config
from spark_edu.device import one_thread
from spark_edu.display import Table
from spark_edu.measure import mean_interval
from spark_edu.moe import (
    balance_cv,
    dropped_rate,
    load_fractions,
    max_violation,
    routing_matrix,
    specialisation,
    unrouted_rate,
)
from spark_edu.moe.layer import MoEConfig
from spark_edu.results import load_json
from spark_edu.tasks.token_categories import CATEGORIES, TokenCategoryConfig, TokenCategoryTask
from spark_edu.train import TrainConfig, train

CAPACITY = 1.0  # every method gets C = ⌈1 · T · 2 / 8⌉ places per routed expert
METHODS: dict[str, MoEConfig] = {
    "top-2 + Switch": moe_config(balance_alpha=0.01, capacity_factor=CAPACITY),
    "expert choice": moe_config(router="expert_choice", capacity_factor=CAPACITY),
    "top-2 + bias": moe_config(router="bias", bias_rate=1e-3, capacity_factor=CAPACITY),
    "shared + top-1": moe_config(
        shared_experts=1, k=1, renormalize=False, balance_alpha=0.01, capacity_factor=CAPACITY
    ),
}
LRS = (3e-3, 1e-2, 3e-2)
BIAS_RATES = (1e-4, 3e-4, 1e-3, 3e-3)  # the bias router's update speed u, chosen on validation MaxVio
TUNE_SEEDS = (100, 101, 102)  # rates are chosen on these seeds' validation tokens
SEEDS = (0, 1, 2, 3, 4)  # the chosen setting is reported over these, disjoint from TUNE_SEEDS
STEPS, BATCH_TOKENS, EVAL_TOKENS = 1000, 256, 4096
VALID_SEED = 20_000  # validation tokens, for choosing the learning rate only
KEYS = ("max_violation", "balance_cv", "specialisation", "dropped", "unrouted", "task_loss", "accuracy")
COMMAND = "python -m spark_edu run moe --out spark_edu/data/moe/routers.json"


def routed_load(routing, n_experts: int, expert_choice: bool = False) -> torch.Tensor:
    """(E,) the load the router asked for: every chosen assignment for token choice (before
    capacity drops), the taken ones for expert choice (whose ``indices`` list every expert)."""
    return load_fractions(routing.indices, n_experts, kept=routing.kept if expert_choice else None)


def evaluate(model: CategoryMoEModel, task: TokenCategoryTask, seed: int, n_tokens: int = EVAL_TOKENS) -> dict:
    """Balance, specialisation, drops, task loss and accuracy on ``n_tokens`` drawn with ``seed``."""
    batch = task.sample(n_tokens, torch.Generator().manual_seed(seed))
    model.eval()
    with torch.no_grad():
        logits, out = model(batch.x)
    r, E = out.routing, model.moe.config.n_experts
    expert_choice = model.moe.config.router == "expert_choice"
    f = routed_load(r, E, expert_choice)
    matrix = routing_matrix(batch.category, r.indices, r.gates, len(CATEGORIES), E, weight="gate")
    return {
        "max_violation": max_violation(f),
        "balance_cv": balance_cv(f),
        "specialisation": specialisation(matrix),
        "dropped": None if expert_choice else dropped_rate(r.kept),  # no token-choice assignments to drop
        "unrouted": unrouted_rate(r.kept),
        "task_loss": float(F.cross_entropy(logits, batch.y)),
        "accuracy": float((logits.argmax(-1) == batch.y).float().mean()),
    }


def train_method(moe: MoEConfig, lr: float, seed: int, steps: int = STEPS, batch_tokens: int = BATCH_TOKENS):
    """One seeded run on one thread: returns (validation metrics, test metrics, load history (steps, E))."""
    task = TokenCategoryTask(TokenCategoryConfig())
    with one_thread(), torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CategoryMoEModel(moe, task.config.n_classes)
        loads = []

        def loss_fn(m, batch):
            logits, out = m(batch.x)
            loads.append(routed_load(out.routing, moe.n_experts, moe.router == "expert_choice"))
            return F.cross_entropy(logits, batch.y) + out.aux_loss

        train(model, lambda g: task.sample(batch_tokens, g), loss_fn, TrainConfig(steps=steps, lr=lr, seed=seed))
        return evaluate(model, task, VALID_SEED), evaluate(model, task, EVAL_SEED), torch.stack(loads)


def _interval(values: list) -> list[float] | None:
    return None if any(v is None for v in values) else [round(v, 5) for v in mean_interval(values)]


def _block_means(history: torch.Tensor, block: int = 10) -> list[list[float]]:
    steps = history.shape[0] // block * block
    return history[:steps].reshape(-1, block, history.shape[1]).mean(dim=1).round(decimals=4).tolist()


def overlap(seed: int = 0, steps: int = STEPS, batch_tokens: int = BATCH_TOKENS) -> dict[str, int]:
    """Input vectors shared by the training stream of ``seed`` and the test / validation tokens."""
    task = TokenCategoryTask(TokenCategoryConfig())
    g = torch.Generator().manual_seed(seed)  # the stream train() draws with TrainConfig(seed=seed)
    seen = {row.numpy().tobytes() for _ in range(steps) for row in task.sample(batch_tokens, g).x}
    out = {}
    for name, s in (("test", EVAL_SEED), ("validation", VALID_SEED)):
        rows = task.sample(EVAL_TOKENS, torch.Generator().manual_seed(s)).x
        out[name] = sum(row.numpy().tobytes() in seen for row in rows)
    return out


def _tune_bias_rate(moe: MoEConfig, lr: float, rates, tune_seeds, runs: dict, steps: int, batch_tokens: int):
    """The bias router's config at the u of ``rates`` with the lowest mean validation MaxVio at ``lr``
    (the runs at its current u are reused from ``runs``), and each u's mean validation MaxVio."""
    by_u = {}
    for u in rates:
        config = dataclasses.replace(moe, bias_rate=u)
        done = [
            runs[lr, s] if u == moe.bias_rate else train_method(config, lr, s, steps, batch_tokens) for s in tune_seeds
        ]
        by_u[u] = statistics.fmean(run[0]["max_violation"] for run in done)
    chosen = min(by_u, key=by_u.get)
    return dataclasses.replace(moe, bias_rate=chosen), {f"{u:g}": round(v, 5) for u, v in by_u.items()}


def compare_routers(
    methods: dict[str, MoEConfig] = METHODS,
    lrs=LRS,
    tune_seeds=TUNE_SEEDS,
    seeds=SEEDS,
    steps: int = STEPS,
    batch_tokens: int = BATCH_TOKENS,
    bias_rates=BIAS_RATES,
) -> dict:
    """The whole comparison (see the module docstring); a JSON-ready dict."""
    start = time.perf_counter()
    out = {"methods": {}}
    for name, moe in methods.items():
        tuning = {}
        runs = {}
        for lr in lrs:
            for seed in tune_seeds:
                runs[lr, seed] = train_method(moe, lr, seed, steps, batch_tokens)
            tuning[lr] = statistics.fmean(runs[lr, s][0]["task_loss"] for s in tune_seeds)
        best = min(tuning, key=tuning.get)
        entry = {}
        if moe.router == "bias" and len(bias_rates) > 1:
            moe, entry["validation_max_violation_by_u"] = _tune_bias_rate(
                moe, best, bias_rates, tune_seeds, runs, steps, batch_tokens
            )
        tests = [train_method(moe, best, s, steps, batch_tokens) for s in seeds]
        runs = {(best, s): run for s, run in zip(seeds, tests)}
        tests = [t[1] for t in tests]
        out["methods"][name] = entry | {
            "config": {k: v for k, v in moe.__dict__.items()},
            "validation_loss_by_lr": {f"{lr:g}": round(v, 5) for lr, v in tuning.items()},
            "lr": best,
            "per_seed": tests,
            "summary": {k: _interval([t[k] for t in tests]) for k in KEYS},
            "load_history_seed0": _block_means(runs[best, seeds[0]][2]),
        }
    out["overlap"] = overlap(seeds[0], steps, batch_tokens)
    out["provenance"] = {
        "command": COMMAND,  # the command line sets what it ran
        "lrs": list(lrs),
        "bias_rates": list(bias_rates),
        "tune_seeds": list(tune_seeds),
        "seeds": list(seeds),
        "steps": steps,
        "batch_tokens": batch_tokens,
        "eval_tokens": EVAL_TOKENS,
        "capacity_factor": CAPACITY,
        "threads": 1,
        "wall_s": round(time.perf_counter() - start, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # at the end of the run
        "torch": torch.__version__,
    }
    return out


def saved_routers() -> dict:
    """The comparison shipped with the package (``spark_edu/data/moe/routers.json``)."""
    return load_json("moe", "routers.json")


def quick(steps: int = 30, seeds=(0,)) -> dict:
    """A tiny version (one rate, few steps) for tests: the same code path."""
    return compare_routers(
        METHODS, lrs=(1e-2,), tune_seeds=seeds, seeds=seeds, steps=steps, batch_tokens=64, bias_rates=(1e-3, 3e-3)
    )


def format_table(result: dict) -> Table:
    """Mean [95% interval] over seeds per method and metric; '—' where it does not apply."""
    heads = {"dropped": "dropped", "unrouted": "no expert", "task_loss": "task loss"}
    columns = [HEADINGS.get(k) or heads[k] for k in KEYS]
    rows = []
    for name, m in result["methods"].items():
        cells = [None if m["summary"][k] is None else tuple(m["summary"][k]) for k in KEYS]
        rows.append([name, m["lr"], *cells])
    formats = {c: ".3f" for c in columns} | {"lr": "g"}
    return Table(rows, ["method", "lr", *columns], formats, caption="mean [95% interval] over seeds")
