"""Tokens from the report's 8 content categories, each with its own labelling rule.

The "Expert Routing Analysis" of the modular report names 8 experts (factual
verification, opinion detection, context analysis, temporal reasoning, numerical
verification, entity recognition, causal reasoning, contradiction detection). This task
gives each a category of tokens, so "expert specialisation" has a ground truth.

Encoding (D = ``d_model``). A token of category c is a word w from c's word list and a
fresh context vector z ~ N(0, I_D); its input vector is::

    x = signal · s_c + u_w + z          s_c: unit category signature, u_w: word embedding (norm 1)

and its target is category c's own linear rule applied to the part that is not the
signature::

    y = argmax_j (R_c (u_w + z))_j      R_c: (n_classes, D), different for every category

So the category is readable from x (the router can learn it), and a network does best by
treating each category with its own rule (the experts have a reason to specialise). The
task itself (signatures, words, rules) is fixed by ``config.seed``; batches come from the
generator passed to :meth:`TokenCategoryTask.sample`.

Worked example (defaults)::

    task = TokenCategoryTask()
    batch = task.sample(4, torch.Generator().manual_seed(0))
    batch.x.shape, batch.y.shape      # (4, 32), (4,)   inputs and class labels in [0, 4)
    task.describe(batch, 0)           # e.g. "'1987' (temporal reasoning) -> class 2"

Nothing is ignored: every token has a label; categories are equally likely unless
``category_probs`` says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from spark_edu.validation import check_positive_int, check_range

#: The report's 8 experts, one content category each.
CATEGORIES = (
    "factual verification",
    "opinion detection",
    "context analysis",
    "temporal reasoning",
    "numerical verification",
    "entity recognition",
    "causal reasoning",
    "contradiction detection",
)

#: Eight words per category (what the token "is"; the model sees only x).
WORDS = {
    "factual verification": ("confirmed", "reported", "according", "data", "study", "records", "official", "verified"),
    "opinion detection": ("great", "terrible", "believe", "best", "awful", "love", "hate", "amazing"),
    "context analysis": ("the", "which", "this", "earlier", "above", "where", "such", "former"),
    "temporal reasoning": ("1987", "Monday", "March", "yesterday", "decade", "after", "during", "2024"),
    "numerical verification": ("42", "3.5", "million", "percent", "half", "twice", "17", "thousand"),
    "entity recognition": ("Paris", "NASA", "Senate", "Obama", "Amazon", "Nile", "UNESCO", "Tesla"),
    "causal reasoning": ("because", "therefore", "hence", "due", "since", "thus", "causes", "leads"),
    "contradiction detection": ("but", "however", "although", "despite", "yet", "whereas", "not", "never"),
}


@dataclass(frozen=True)
class TokenCategoryConfig:
    d_model: int = 32
    n_classes: int = 4
    signal: float = 3.0  # norm of the category signature; larger = easier to route
    category_probs: tuple[float, ...] | None = None  # None: all 8 categories equally likely
    seed: int = 1234  # fixes the task itself (signatures, word embeddings, rules)

    def __post_init__(self):
        check_positive_int("d_model", self.d_model, minimum=len(CATEGORIES))
        check_positive_int("n_classes", self.n_classes, minimum=2)
        check_range("signal", self.signal, 0.0)
        if self.category_probs is not None:
            p = self.category_probs
            if len(p) != len(CATEGORIES) or any(v < 0 for v in p) or not math.isclose(sum(p), 1.0, abs_tol=1e-6):
                raise ValueError(
                    f"category_probs must be {len(CATEGORIES)} non-negative numbers summing to 1, got {p!r}"
                )


@dataclass(frozen=True)
class TokenBatch:
    x: torch.Tensor  # (N, D) inputs
    y: torch.Tensor  # (N,) class labels
    category: torch.Tensor  # (N,) category ids (ground truth for specialisation)
    word: torch.Tensor  # (N,) word ids, category-major: word // 8 == category


class TokenCategoryTask:
    """The fixed task; :meth:`sample` draws tokens from it."""

    def __init__(self, config: TokenCategoryConfig = TokenCategoryConfig()):
        self.config = config
        C, D, W = len(CATEGORIES), config.d_model, len(WORDS[CATEGORIES[0]])
        g = torch.Generator().manual_seed(config.seed)
        q, _ = torch.linalg.qr(torch.randn(D, C, generator=g))  # (D, C) orthonormal columns
        self.signatures = q.t().contiguous()  # (C, D) unit, mutually orthogonal
        u = torch.randn(C * W, D, generator=g)  # (C*W, D)
        self.word_vectors = u / u.norm(dim=-1, keepdim=True)  # (C*W, D) unit word embeddings
        self.rules = torch.randn(C, config.n_classes, D, generator=g) / math.sqrt(D)  # (C, n_classes, D)
        self.words = [w for c in CATEGORIES for w in WORDS[c]]
        self.words_per_category = W

    def sample(self, n_tokens: int, generator: torch.Generator) -> TokenBatch:
        """Draw ``n_tokens`` independent tokens using ``generator``."""
        check_positive_int("n_tokens", n_tokens)
        cfg, W = self.config, self.words_per_category
        probs = (
            torch.full((len(CATEGORIES),), 1.0 / len(CATEGORIES))
            if cfg.category_probs is None
            else torch.tensor(cfg.category_probs)
        )
        category = torch.multinomial(probs, n_tokens, replacement=True, generator=generator)  # (N,)
        word = category * W + torch.randint(0, W, (n_tokens,), generator=generator)  # (N,)
        z = torch.randn(n_tokens, cfg.d_model, generator=generator)  # (N, D) context
        content = self.word_vectors[word] + z  # (N, D)
        x = cfg.signal * self.signatures[category] + content  # (N, D)
        scores = torch.einsum("njd,nd->nj", self.rules[category], content)  # (N, n_classes)
        return TokenBatch(x, scores.argmax(dim=-1), category, word)

    def describe(self, batch: TokenBatch, i: int) -> str:
        """One token as text: its word, category and label."""
        c = int(batch.category[i])
        return f"{self.words[int(batch.word[i])]!r} ({CATEGORIES[c]}) -> class {int(batch.y[i])}"
