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
    fused: bool = False  # AdamW as one fused kernel over all tensors: the same update to float rounding, faster

    def __post_init__(self):
        check_positive_int("steps", self.steps)
        check_range("lr", self.lr, 0.0, math.inf, low_inclusive=False)
        check_range("weight_decay", self.weight_decay, 0.0)
        if self.grad_clip is not None:
            check_range("grad_clip", self.grad_clip, 0.0, math.inf, low_inclusive=False)
        check_positive_int("warmup_steps", self.warmup_steps, minimum=0)
        if not isinstance(self.fused, bool):
            raise ValueError(f"fused must be a bool, got {self.fused!r}")


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


@dataclass(frozen=True)
class Step:
    """What :func:`train` hands ``on_step`` after each update.

    ``step`` counts the updates done so far (1 after the first); ``aux`` is the second item
    when ``loss_fn`` returns ``(loss, aux)`` (for example the routing of the batch), else None.
    """

    step: int
    loss: float
    grad_norm: float
    model: nn.Module
    aux: object = None


def progress(iterable, total: int | None = None, desc: str | None = None):
    """A tqdm.auto bar, or the bare iterable when quiet."""
    if quiet():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """The AdamW that :func:`train` steps (Loshchilov & Hutter, 2019), with ``config``'s rate and decay.

    ``config.fused`` runs the update of every tensor in one kernel (``fused=True``, CPU and
    CUDA) instead of a dozen small operations per tensor; it agrees with the per-tensor loop to
    float rounding (about 1e-8 relative per step here), not bitwise.
    """
    extra = {"fused": True} if config.fused else {}
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **extra)


def train(
    model: nn.Module,
    make_batch: Callable[[torch.Generator], object],
    loss_fn: Callable[[nn.Module, object], torch.Tensor],
    config: TrainConfig = TrainConfig(),
    desc: str = "training",
    on_step: Callable[[Step], None] | None = None,
) -> TrainHistory:
    """Minimise ``loss_fn(model, make_batch(g))`` with AdamW for ``config.steps`` steps.

    ``make_batch`` receives a ``torch.Generator`` seeded with ``config.seed`` so batches are
    reproducible; ``loss_fn`` returns a scalar tensor, or ``(loss, aux)``. ``on_step`` (if given)
    is called after every update with a :class:`Step`: the place for monitoring (evaluations,
    routing loads), so a loss function never has to count calls. Returns the history.
    """
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = make_optimizer(model, config)
    warmup = max(1, config.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    history = TrainHistory()
    model.train()
    for step in progress(range(1, config.steps + 1), total=config.steps, desc=desc):
        loss, aux = _loss_and_aux(loss_fn(model, make_batch(generator)))
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0 or not torch.isfinite(loss):
            raise ValueError(f"loss_fn must return a finite scalar tensor, got {loss!r}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = config.grad_clip if config.grad_clip is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        scheduler.step()
        history.losses.append(loss.item())
        history.grad_norms.append(float(grad_norm))
        if on_step is not None:
            on_step(Step(step, history.losses[-1], history.grad_norms[-1], model, aux))
            model.train()  # a monitor may have switched to eval mode
    model.eval()
    return history


def _loss_and_aux(result) -> tuple[torch.Tensor, object]:
    if isinstance(result, tuple):
        if len(result) != 2:
            raise ValueError(f"loss_fn must return a loss or a (loss, aux) pair, got a tuple of {len(result)}")
        return result
    return result, None
