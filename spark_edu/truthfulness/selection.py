"""Nested cross-validation: hyperparameters chosen by inner folds, scores from outer folds.

Choosing a learning rate or a penalty by the score on the statements one then reports is
tuning on the evaluation data: the best of several noisy scores is biased upwards (Varma &
Simon, 2006, *BMC Bioinformatics* 7:91; Cawley & Talbot, 2010, *JMLR* 11:2079–2107). Nested
cross-validation keeps the two jobs apart (eq-truth-nested):

    for each outer fold k:   D_train = all statements outside fold k
        for each setting θ in the grid:  L(θ) = log loss of inner-CV predictions on D_train
        θ_k = argmin_θ L(θ);   refit on D_train with θ_k;   predict fold k

so fold k's statements influence neither the choice of θ_k nor the model that scores them.
The log loss is a proper scoring rule and smoother than accuracy, so it separates close
settings better; ties go to the earlier setting of the grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spark_edu.truthfulness.classifiers import Fit, cross_val_probs, fold_ids
from spark_edu.validation import check_positive_int, check_same_length


def grid(**axes: Sequence) -> list[dict]:
    """Every combination of the given values: ``grid(lr=(0.1, 0.3), l2=(0, 1e-4))`` has four settings."""
    if not axes or any(len(v) == 0 for v in axes.values()):
        raise ValueError("grid needs at least one axis, each with at least one value")
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*axes.values())]


def log_loss(labels, probs) -> float:
    """Mean binary cross-entropy of probabilities clipped to [1e-6, 1 − 1e-6]."""
    p = torch.as_tensor(probs).double().clamp(1e-6, 1 - 1e-6)
    return float(F.binary_cross_entropy(p, torch.as_tensor(labels).double()))


@dataclass(frozen=True)
class NestedCV:
    probs: torch.Tensor  # (N,) outer out-of-fold P(true)
    fold: torch.Tensor  # (N,) outer fold of each statement
    chosen: tuple[dict, ...]  # the setting each outer fold's inner CV chose
    inner_losses: tuple[tuple[float, ...], ...]  # (outer folds, settings) inner-CV log loss


def nested_cross_val(
    make_fit: Callable[[dict], Fit],
    settings: Sequence[dict],
    texts: Sequence[str],
    labels,
    outer_folds: int = 5,
    inner_folds: int = 3,
    seed: int = 0,
    groups: Sequence | None = None,
) -> NestedCV:
    """eq-truth-nested. ``make_fit(setting)`` returns a fit function ``(texts, labels) -> model``.

    ``groups`` keeps each group in one fold, in the outer and the inner splits alike.
    """
    labels = torch.as_tensor(labels)
    check_same_length("texts", texts, "labels", labels)
    check_positive_int("inner_folds", inner_folds, minimum=2)
    if not settings:
        raise ValueError("settings must hold at least one hyperparameter setting")
    fold = fold_ids(len(texts), outer_folds, seed, groups)  # (N,)
    probs = torch.empty(len(texts))
    chosen, losses = [], []
    for k in range(outer_folds):
        train_idx, test_idx = (fold != k).nonzero().squeeze(1), (fold == k).nonzero().squeeze(1)
        train_x, train_y = [texts[i] for i in train_idx], labels[train_idx]
        train_groups = None if groups is None else [groups[i] for i in train_idx]
        row = tuple(
            log_loss(train_y, cross_val_probs(make_fit(s), train_x, train_y, inner_folds, seed + 1, train_groups))
            for s in settings
        )
        best = settings[min(range(len(settings)), key=row.__getitem__)]
        model = make_fit(best)(train_x, train_y)
        probs[test_idx] = model.predict_proba([texts[i] for i in test_idx])
        chosen.append(dict(best))
        losses.append(row)
    return NestedCV(probs, fold, tuple(chosen), tuple(losses))
