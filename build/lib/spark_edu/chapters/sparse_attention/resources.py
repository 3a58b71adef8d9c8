"""The report's resource-usage row: a dense and an 80 % block-sparse transformer, trained on
the lagged-copy task (:mod:`spark_edu.tasks.lag_copy`), then one training step of each timed
and its peak memory measured, at the training length and at a longer one."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spark_edu.attention import masks
from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.layer import block_sparse_factory
from spark_edu.device import one_thread
from spark_edu.measure import peak_memory_bytes, time_it
from spark_edu.tasks.lag_copy import LagCopyConfig, accuracy, make_batch
from spark_edu.train import TrainConfig, train
from spark_edu.transformer import Transformer, TransformerConfig


@dataclass(frozen=True)
class ResourceConfig:
    length: int = 256
    block_size: int = 16
    sparsity: float = 0.8
    band: int = 1  # keep tiles |I − J| ≤ 1 (BigBird's sliding blocks), then random ones
    steps: int = 80
    batch_size: int = 8
    lr: float = 1e-2
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    cost_length: int = 1024  # also time one training step of both models at this length
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class ResourceResult:
    block_sparsity: float
    dense_accuracy: list[float]
    sparse_accuracy: list[float]
    dense_losses: list[list[float]]
    sparse_losses: list[list[float]]
    memory_ratio: float  # sparse / dense peak memory of one training step, at ``length``
    time_ratio: float  # sparse / dense median time of one training step, at ``length``
    memory_ratio_long: float  # the same at ``cost_length``
    time_ratio_long: float

    @property
    def accuracy_ratio(self) -> list[float]:
        return [s / d for s, d in zip(self.sparse_accuracy, self.dense_accuracy)]


def _models(config: ResourceConfig, length: int, seed: int):
    """Dense and block-sparse models; at other lengths the tiles grow so the layout keeps its shape."""
    block_size = config.block_size * length // config.length
    task_cfg = TransformerConfig(
        vocab_size=16,
        d_model=config.d_model,
        n_heads=config.n_heads,
        n_layers=config.n_layers,
        max_len=length,
        out_dim=16,
    )
    n_blocks = -(-length // block_size)
    predicate = masks.block_sparse(
        masks.random_block_layout(n_blocks, config.sparsity, seed, band=config.band), block_size
    )
    layout = BlockLayout.from_predicate(predicate, length, length, block_size)
    torch.manual_seed(seed)
    dense = Transformer(task_cfg)
    torch.manual_seed(seed)
    sparse = Transformer(task_cfg, block_sparse_factory(layout))
    return dense, sparse, layout


def _loss(model, batch):
    tokens, targets = batch
    return F.cross_entropy(model(tokens).flatten(0, 1), targets.flatten(), ignore_index=-100)


def _step_cost(model, batch, repeats: int) -> tuple[float, float]:
    """(median seconds, peak MB) of one forward + backward pass, on one thread (see the benchmark)."""

    def step():
        model.zero_grad(set_to_none=True)
        _loss(model, batch).backward()

    with one_thread():
        return time_it(step, repeats=repeats).median_s, peak_memory_bytes(step) / 2**20


def resource_usage(config: ResourceConfig = ResourceConfig(), repeats: int = 3) -> ResourceResult:
    """Train dense and 80 % block-sparse transformers on lagged copy; compare cost and accuracy."""
    task = LagCopyConfig(vocab_size=16, length=config.length, lag=8, batch_size=config.batch_size)
    test = make_batch(LagCopyConfig(16, config.length, 8, 64), torch.Generator().manual_seed(10_000))
    acc_d, acc_s, loss_d, loss_s = [], [], [], []
    for seed in config.seeds:
        dense, sparse, layout = _models(config, config.length, seed)
        for model, accs, losses in ((dense, acc_d, loss_d), (sparse, acc_s, loss_s)):
            history = train(
                model,
                lambda g: make_batch(task, g),
                _loss,
                TrainConfig(steps=config.steps, lr=config.lr, warmup_steps=20, seed=seed),
            )
            with torch.no_grad():
                accs.append(accuracy(model(test[0]), test[1]))
            losses.append(history.losses)
    ratios = []
    for length in (config.length, config.cost_length):
        dense, sparse, _ = _models(config, length, config.seeds[0])
        batch = make_batch(
            LagCopyConfig(16, length, 8, config.batch_size if length == config.length else 1),
            torch.Generator().manual_seed(1),
        )
        (t_d, m_d), (t_s, m_s) = _step_cost(dense, batch, repeats), _step_cost(sparse, batch, repeats)
        ratios.append((m_s / m_d, t_s / t_d))
    return ResourceResult(
        layout.block_sparsity, acc_d, acc_s, loss_d, loss_s, ratios[0][0], ratios[0][1], ratios[1][0], ratios[1][1]
    )
