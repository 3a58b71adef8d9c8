"""Two truthfulness classifiers, both trained with :func:`spark_edu.train.train`.

* :class:`TfidfLogisticRegression` — the readable baseline (eq-truth-logreg):

      P(true | text) = σ(wᵀ x + b),  x = TF-IDF(text) (eq-truth-tfidf),
      minimise  mean BCE(σ(wᵀx + b), y) + λ ‖w‖²,   full batch.

* :class:`TransformerClassifier` — the book's own :class:`spark_edu.transformer.Transformer`
  reading ``<cls> metadata | statement``; the final state of ``<cls>`` goes through a
  linear head to one logit. Padding is masked out of attention (keys only).

``cross_val_probs`` gives every statement a probability from a model that never saw it
(k-fold cross-validation), so metrics on 1,000 statements use all 1,000 honestly; the
hyperparameters are chosen inside each training fold (:mod:`spark_edu.truthfulness.selection`).
Dimension letters: N statements, V vocabulary, T tokens, C model width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spark_edu.train import TrainConfig, train
from spark_edu.transformer import Transformer, TransformerConfig
from spark_edu.truthfulness.text import Tfidf, Vocabulary
from spark_edu.validation import check_positive_int, check_same_length


def _check_fit_args(texts: Sequence[str], labels: torch.Tensor) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if len(texts) != len(labels):
        raise ValueError(f"texts and labels must have the same length, got {len(texts)} and {len(labels)}")
    if len(texts) < 2:
        raise ValueError("need at least two training texts")
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("labels must be 0 or 1")
    return labels.float()


@dataclass(frozen=True)
class LogRegConfig:
    steps: int = 200
    lr: float = 0.1  # a default only: the chapter chooses lr and l2 by nested cross-validation
    l2: float = 1e-4  # λ in eq-truth-logreg
    seed: int = 0

    def __post_init__(self):
        check_positive_int("steps", self.steps)
        if not self.l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2!r}")


class TfidfLogisticRegression(nn.Module):
    """σ(wᵀ TF-IDF(text) + b), eq-truth-logreg."""

    def __init__(self, tfidf: Tfidf):
        super().__init__()
        self.tfidf = tfidf
        self.linear = nn.Linear(len(tfidf.vocab), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).squeeze(-1)  # (N,) logits

    @classmethod
    def fit(cls, texts: Sequence[str], labels, config: LogRegConfig = LogRegConfig()) -> TfidfLogisticRegression:
        y = _check_fit_args(texts, labels)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            model = cls(Tfidf.fit(texts))
        x = model.tfidf.transform(texts)  # (N, V)

        def loss_fn(m, batch):
            xb, yb = batch
            return F.binary_cross_entropy_with_logits(m(xb), yb) + config.l2 * m.linear.weight.pow(2).sum()

        train(
            model,
            lambda g: (x, y),
            loss_fn,
            TrainConfig(steps=config.steps, lr=config.lr, seed=config.seed),
            desc="logistic regression",
        )
        return model

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.sigmoid(self(self.tfidf.transform(texts)))  # (N,)


@dataclass(frozen=True)
class TransformerClassifierConfig:
    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 1
    steps: int = 150
    batch_size: int = 64
    lr: float = 3e-3  # a default only: the chapter chooses lr by nested cross-validation
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self):
        check_positive_int("steps", self.steps)
        check_positive_int("batch_size", self.batch_size)


class TransformerClassifier(nn.Module):
    """``<cls>`` state of :class:`~spark_edu.transformer.Transformer` → linear → one logit."""

    def __init__(self, vocab: Vocabulary, max_len: int, config: TransformerClassifierConfig):
        super().__init__()
        self.vocab, self.max_len = vocab, max_len
        self.body = Transformer(
            TransformerConfig(
                vocab_size=len(vocab),
                d_model=config.d_model,
                n_heads=config.n_heads,
                n_layers=config.n_layers,
                max_len=max_len,
            )
        )
        self.head = nn.Linear(config.d_model, 1)

    def forward(self, tokens: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        mask = keep[:, None, None, :]  # (N, 1, 1, T): every query may attend to every real token
        h = self.body(tokens, mask)  # (N, T, C)
        return self.head(h[:, 0]).squeeze(-1)  # (N,) logit from the <cls> position

    @classmethod
    def fit(
        cls, texts: Sequence[str], labels, config: TransformerClassifierConfig = TransformerClassifierConfig()
    ) -> TransformerClassifier:
        y = _check_fit_args(texts, labels)
        vocab = Vocabulary.build(texts)
        tokens, keep = vocab.encode(texts)  # (N, T)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            model = cls(vocab, tokens.shape[1] + 8, config)  # a little room for longer test texts

        def make_batch(g):
            idx = torch.randint(len(y), (config.batch_size,), generator=g)
            return tokens[idx], keep[idx], y[idx]

        def loss_fn(m, batch):
            tb, kb, yb = batch
            return F.binary_cross_entropy_with_logits(m(tb, kb), yb)

        train(
            model,
            make_batch,
            loss_fn,
            TrainConfig(steps=config.steps, lr=config.lr, weight_decay=config.weight_decay, seed=config.seed),
            desc="transformer classifier",
        )
        return model

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        tokens, keep = self.vocab.encode(texts, max_len=self.max_len)
        return torch.sigmoid(self(tokens, keep))  # (N,)


Fit = Callable[[Sequence[str], torch.Tensor], nn.Module]


def fold_ids(n: int, n_folds: int, seed: int = 0, groups: Sequence | None = None) -> torch.Tensor:
    """(N,) fold of each item: a seeded permutation dealt round-robin into ``n_folds`` folds.

    With ``groups`` (one hashable key per item, e.g. the fact a question asks about) whole
    groups are dealt instead, so items of one group always share a fold.
    """
    check_positive_int("n_folds", n_folds, minimum=2)
    g = torch.Generator().manual_seed(seed)
    if groups is None:
        if n_folds > n:
            raise ValueError(f"n_folds must be <= the number of texts ({n}), got {n_folds}")
        fold = torch.empty(n, dtype=torch.long)
        fold[torch.randperm(n, generator=g)] = torch.arange(n) % n_folds
        return fold
    if len(groups) != n:
        raise ValueError(f"groups must have one entry per text ({n}), got {len(groups)}")
    keys = sorted(set(groups), key=repr)
    if n_folds > len(keys):
        raise ValueError(f"n_folds must be <= the number of groups ({len(keys)}), got {n_folds}")
    order = torch.randperm(len(keys), generator=g).tolist()
    group_fold = {keys[i]: k % n_folds for k, i in enumerate(order)}
    return torch.tensor([group_fold[key] for key in groups], dtype=torch.long)


def cross_val_probs(
    fit: Fit, texts: Sequence[str], labels, n_folds: int = 5, seed: int = 0, groups: Sequence | None = None
) -> torch.Tensor:
    """Out-of-fold P(true) for every text: ``fit`` on k−1 folds, predict the held-out fold.

    ``groups`` keeps each group's texts in one fold (see :func:`fold_ids`).
    """
    labels = torch.as_tensor(labels)
    check_positive_int("n_folds", n_folds, minimum=2)
    check_same_length("texts", texts, "labels", labels)
    fold = fold_ids(len(texts), n_folds, seed, groups)  # (N,) fold of each text
    probs = torch.empty(len(texts))
    for k in range(n_folds):
        train_idx, test_idx = (fold != k).nonzero().squeeze(1), (fold == k).nonzero().squeeze(1)
        model = fit([texts[i] for i in train_idx], labels[train_idx])
        probs[test_idx] = model.predict_proba([texts[i] for i in test_idx])
    return probs
