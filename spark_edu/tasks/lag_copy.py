"""Lagged copy: at every position, output the token seen ``lag`` positions earlier.

A task whose answer is local — position ``i`` needs only key ``i − lag`` — so a sparse
attention pattern that keeps the neighbouring tiles can solve it as well as dense
attention, while one that drops them cannot.

Worked example (``vocab_size=5``, ``length=8``, ``lag=2``)::

    tokens  = [3, 1, 4, 1, 0, 2, 4, 3]
    targets = [-100, -100, 3, 1, 4, 1, 0, 2]   # targets[i] = tokens[i − 2]

The first ``lag`` positions have no answer; their target is ``IGNORE`` (-100), which
``torch.nn.functional.cross_entropy`` and :func:`accuracy` skip.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.validation import check_float, check_integer, check_ndim, check_positive_int

IGNORE = -100


@dataclass(frozen=True)
class LagCopyConfig:
    vocab_size: int = 16
    length: int = 256
    lag: int = 8  # below the block size, so the answer sits in the same or the previous tile
    batch_size: int = 16

    def __post_init__(self):
        check_positive_int("vocab_size", self.vocab_size, minimum=2)
        check_positive_int("length", self.length, minimum=2)
        check_positive_int("lag", self.lag)
        check_positive_int("batch_size", self.batch_size)
        if self.lag >= self.length:
            raise ValueError(f"lag must be < length ({self.length}), got {self.lag}")


def make_batch(config: LagCopyConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens, targets)``, both (B, T) int64; targets are ``IGNORE`` for the first ``lag``."""
    tokens = torch.randint(0, config.vocab_size, (config.batch_size, config.length), generator=generator)  # (B, T)
    targets = torch.full_like(tokens, IGNORE)  # (B, T)
    targets[:, config.lag :] = tokens[:, : -config.lag]
    return tokens, targets


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of answered positions (target ≠ IGNORE) where the arg-max is right."""
    check_float("logits", logits)
    check_integer("targets", targets, low=None)
    check_ndim("logits", logits, (3,))
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"logits (B, T, V) and targets (B, T) must agree, got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    keep = targets != IGNORE  # (B, T)
    if not bool(keep.any()):
        raise ValueError(f"targets has no answered position (every entry is IGNORE = {IGNORE})")
    return (logits.argmax(dim=-1)[keep] == targets[keep]).float().mean().item()
