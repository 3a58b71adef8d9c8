"""One small training loop for every chapter: any ``nn.Module``, any batch source, any loss.

It imports no mechanism. Progress shows as a tqdm bar in interactive use and is silent
under tests and ``make execute`` (``SPARK_EDU_QUIET=1``), so committed outputs are stable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from spark_edu.device import quiet
from spark_edu.validation import check_positive_int, check_range


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200
    lr: float = 3e-3
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0  # max global grad norm; None disables clipping
    warmup_steps: int = 0  # linear warm-up, then constant learning rate
    seed: int = 0  # seeds the batch generator passed to ``make_batch``

    def __post_init__(self):
        check_positive_int("steps", self.steps)
        check_range("lr", self.lr, 0.0, math.inf, low_inclusive=False)
        check_range("weight_decay", self.weight_decay, 0.0)
        if self.grad_clip is not None:
            check_range("grad_clip", self.grad_clip, 0.0, math.inf, low_inclusive=False)
        check_positive_int("warmup_steps", self.warmup_steps, minimum=0)


@dataclass
class TrainHistory:
    """Per-step loss and pre-clipping gradient norm."""

    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        """Mean loss over the last 10% of steps (less noisy than the last step)."""
        tail = max(1, len(self.losses) // 10)
        return sum(self.losses[-tail:]) / tail


def progress(iterable, total: int | None = None, desc: str | None = None):
    """A tqdm.auto bar, or the bare iterable when quiet."""
    if quiet():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


def train(
    model: nn.Module,
    make_batch: Callable[[torch.Generator], object],
    loss_fn: Callable[[nn.Module, object], torch.Tensor],
    config: TrainConfig = TrainConfig(),
    desc: str = "training",
) -> TrainHistory:
    """Minimise ``loss_fn(model, make_batch(g))`` with AdamW for ``config.steps`` steps.

    ``make_batch`` receives a ``torch.Generator`` seeded with ``config.seed`` so batches are
    reproducible; ``loss_fn`` returns a scalar tensor. Returns the loss and gradient history.
    """
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warmup = max(1, config.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    history = TrainHistory()
    model.train()
    for _ in progress(range(config.steps), total=config.steps, desc=desc):
        loss = loss_fn(model, make_batch(generator))
        if loss.dim() != 0 or not torch.isfinite(loss):
            raise ValueError(f"loss_fn must return a finite scalar tensor, got {loss!r}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = config.grad_clip if config.grad_clip is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        scheduler.step()
        history.losses.append(loss.item())
        history.grad_norms.append(float(grad_norm))
    model.eval()
    return history
