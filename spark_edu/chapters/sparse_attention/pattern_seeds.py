"""The report's four patterns trained on one task with one setting, over seeds.

Each pattern of the report's table (``dense``, ``local60``, ``block70``, ``random80``, built by
:func:`~spark_edu.chapters.sparse_attention.bench.make_pattern` at T = 128 with tiles of 16 and
layout seed 0, the same layout for every seed) is the attention of the same 2-layer
transformer (:func:`build_model`; dense through fused SDPA, the others through the
gathered-block kernel, :mod:`spark_edu.attention.layer`), trained on the lagged copy
(:mod:`spark_edu.tasks.lag_copy`, lag 8) with AdamW, one rate (1e-2) and 300 steps for all, for
each of six seeds. Per run: held-out accuracy and cross-entropy after the last step, on a
fixed batch of its own generator. Per pattern: one training step timed in paired rounds
against dense (:func:`step_times`; median and IQR of ``t / t_dense``).

``python -m spark_edu run sparse_attention --pattern-seeds`` writes ``pattern_seeds.json``
(about 1.5 CPU-minutes on one thread).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.layer import block_sparse_factory
from spark_edu.attention import masks
from spark_edu.chapters.sparse_attention.bench import make_pattern
from spark_edu.chapters.sparse_attention.fair_resources import loss
from spark_edu.device import one_thread
from spark_edu.measure import paired_ratio, paired_times
from spark_edu.results import data_dir, write_atomic
from spark_edu.tasks.lag_copy import IGNORE, LagCopyConfig, accuracy, make_batch
from spark_edu.train import TrainConfig, make_optimizer, train
from spark_edu.transformer import Transformer, TransformerConfig
from spark_edu.validation import check_positive_int

PATTERN_SEEDS = "pattern_seeds.json"  # the saved file's name in the chapter's data folder
PATTERNS = ("dense", "local60", "block70", "random80")
HELD_OUT_SEED = 10_000
COMMAND = "python -m spark_edu run sparse_attention --pattern-seeds"


@dataclass(frozen=True)
class SeedStudy:
    length: int = 128
    lag: int = 8
    block_size: int = 16
    layout_seed: int = 0
    vocab_size: int = 16
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    batch: int = 4
    n_test: int = 32
    steps: int = 300
    lr: float = 1e-2
    warmup: int = 20
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    patterns: tuple[str, ...] = PATTERNS
    timing_rounds: int = 7

    def __post_init__(self):
        for name in ("length", "lag", "block_size", "vocab_size", "batch", "n_test", "steps", "timing_rounds"):
            check_positive_int(name, getattr(self, name))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds!r}")
        if not set(self.patterns) <= set(PATTERNS):
            raise ValueError(f"patterns must be among {PATTERNS}, got {self.patterns!r}")

    def task(self, batch: int) -> LagCopyConfig:
        return LagCopyConfig(self.vocab_size, self.length, self.lag, batch)


def kept_fraction(pattern: str, study: SeedStudy = SeedStudy()) -> float:
    """The fraction of the T × T attention elements the pattern keeps (1 − element sparsity)."""
    predicate, _ = make_pattern(pattern, study.length, study.block_size, study.layout_seed)
    return 1.0 - masks.element_sparsity(masks.dense_mask(predicate, study.length))


def build_model(pattern: str, study: SeedStudy, seed: int) -> Transformer:
    """The transformer with ``pattern``'s attention, weights from ``torch.manual_seed(seed)``."""
    shape = TransformerConfig(
        vocab_size=study.vocab_size,
        d_model=study.d_model,
        n_heads=study.n_heads,
        n_layers=study.n_layers,
        max_len=study.length,
        out_dim=study.vocab_size,
    )
    factory = None
    if pattern != "dense":
        predicate, _ = make_pattern(pattern, study.length, study.block_size, study.layout_seed)
        layout = BlockLayout.from_predicate(predicate, study.length, study.length, study.block_size)
        factory = block_sparse_factory(layout)
    torch.manual_seed(seed)
    return Transformer(shape) if factory is None else Transformer(shape, factory)


def run_record(pattern: str, seed: int, study: SeedStudy) -> dict:
    """Train one (pattern, seed); held-out accuracy and loss after the last step."""
    tokens, targets = make_batch(study.task(study.n_test), torch.Generator().manual_seed(HELD_OUT_SEED))
    model = build_model(pattern, study, seed)
    task = study.task(study.batch)
    config = TrainConfig(steps=study.steps, lr=study.lr, warmup_steps=study.warmup, seed=seed)
    start = time.perf_counter()
    history = train(model, lambda g: make_batch(task, g), loss, config)
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        logits = model(tokens)  # (B, T, V)
        held_loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE).item()
    return {
        "pattern": pattern,
        "seed": seed,
        "accuracy": accuracy(logits, targets),
        "loss": held_loss,
        "train_loss": history.final_loss,
        "seconds": seconds,
    }


def step_times(study: SeedStudy) -> dict:
    """Per pattern, one training step in paired rounds: median ms, and t / t_dense median [IQR]."""
    steps = {}
    for pattern in study.patterns:
        model = build_model(pattern, study, seed=0)
        optimizer = make_optimizer(model, TrainConfig(lr=study.lr))
        data = make_batch(study.task(study.batch), torch.Generator().manual_seed(1))
        model.train()

        def step(model=model, optimizer=optimizer, data=data) -> None:
            optimizer.zero_grad(set_to_none=True)
            loss(model, data).backward()
            optimizer.step()

        steps[pattern] = step
    times = paired_times(steps, rounds=study.timing_rounds, warmup=1)
    out = {}
    for pattern in study.patterns:
        r = paired_ratio(times, pattern, "dense")  # t_pattern / t_dense per round
        out[pattern] = {"median_ms": 1e3 * statistics.median(times[pattern]), "ratio": [r.median, r.q1, r.q3]}
    return out


def run_study(study: SeedStudy = SeedStudy(), path=None, progress=None) -> dict:
    """Every (pattern, seed) run and the step timing, on one thread; saved at ``path`` if given."""
    start, load = time.perf_counter(), [os.getloadavg()]
    runs = []
    with one_thread():
        for pattern in study.patterns:
            for seed in study.seeds:
                runs.append(run_record(pattern, seed, study))
                if progress is not None:
                    r = runs[-1]
                    progress(f"{pattern} seed {seed}: accuracy {r['accuracy']:.3f}, loss {r['loss']:.3f}")
        timing = step_times(study)
        used = torch.get_num_threads()
    load.append(os.getloadavg())
    out = {
        "study": json.loads(json.dumps(asdict(study))),
        "kept": {p: kept_fraction(p, study) for p in study.patterns},
        "runs": runs,
        "step_time": timing,
        "threads": used,
        "load_average": load,
        "seconds": time.perf_counter() - start,
        "command": COMMAND,
    }
    if path is not None:
        write_atomic(path, json.dumps(out, indent=1))
    return out


def by_pattern(data: dict, field: str) -> dict[str, list[float]]:
    """``{pattern: [field of each seed's run]}`` from a saved study."""
    out = {p: [] for p in data["study"]["patterns"]}
    for run in sorted(data["runs"], key=lambda r: r["seed"]):
        out[run["pattern"]].append(run[field])
    return out


def load_saved() -> dict | None:
    """The saved ``pattern_seeds.json``, or None before it is written."""
    path = data_dir("sparse_attention") / PATTERN_SEEDS
    return json.loads(path.read_text()) if path.exists() else None
