"""Text to numbers: a tokenizer, a vocabulary, and TF-IDF features.

The bag-of-words view (eq-truth-tfidf) forgets word order and keeps counts:

    tfidf(d, w) = count(w in d) · idf(w),   idf(w) = ln((1 + N) / (1 + df(w))) + 1

then each row is scaled to unit L2 norm. This is scikit-learn's ``TfidfVectorizer`` with
its defaults (``smooth_idf=True``, ``norm="l2"``); a test shows the two agree exactly.
Dimension letters: N documents, V vocabulary size, T tokens per padded sequence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

PAD, CLS, UNK = "<pad>", "<cls>", "<unk>"
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; punctuation is dropped, ``spk_ada_lin`` stays one token.

    >>> tokenize("Official records show gas prices fell, by 3 percent.")
    ['official', 'records', 'show', 'gas', 'prices', 'fell', 'by', '3', 'percent']
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """Token ↔ id map. Ids 0, 1, 2 are ``<pad>``, ``<cls>``, ``<unk>``; words follow, sorted."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, texts: Sequence[str]) -> Vocabulary:
        words = sorted({w for text in texts for w in tokenize(text)})
        return cls((PAD, CLS, UNK, *words))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.tokens)}

    def encode(self, texts: Sequence[str], max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids with ``<cls>`` first, right-padded: returns ``tokens`` (N, T) and ``keep`` (N, T) bool."""
        index, unk = self.index, self.index[UNK]
        rows = [[index[CLS]] + [index.get(w, unk) for w in tokenize(t)] for t in texts]
        T = max_len if max_len is not None else max((len(r) for r in rows), default=1)
        tokens = torch.zeros(len(rows), T, dtype=torch.long)  # (N, T), 0 = <pad>
        for i, row in enumerate(rows):
            row = row[:T]
            tokens[i, : len(row)] = torch.tensor(row)
        return tokens, tokens != 0  # (N, T), (N, T)


def count_matrix(texts: Sequence[str], vocab: Vocabulary) -> torch.Tensor:
    """Word counts (N, V); unknown words are dropped (their column would be meaningless)."""
    index = vocab.index
    pairs = [(i, index[w]) for i, text in enumerate(texts) for w in tokenize(text) if w in index]
    counts = torch.zeros(len(texts), len(vocab))  # (N, V)
    if pairs:
        rows, cols = torch.tensor(pairs).T  # (P,), (P,) one entry per token occurrence
        counts.index_put_((rows, cols), torch.ones(len(pairs)), accumulate=True)
    return counts


@dataclass(frozen=True)
class Tfidf:
    """TF-IDF features fitted on training texts (eq-truth-tfidf)."""

    vocab: Vocabulary
    idf: torch.Tensor  # (V,)

    @classmethod
    def fit(cls, texts: Sequence[str]) -> Tfidf:
        if len(texts) == 0:
            raise ValueError("texts must be non-empty to fit TF-IDF")
        vocab = Vocabulary.build(texts)
        df = (count_matrix(texts, vocab) > 0).sum(0).double()  # (V,) documents containing w
        n = len(texts)
        idf = torch.log((1 + n) / (1 + df)) + 1  # (V,)
        return cls(vocab, idf.float())

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        x = count_matrix(texts, self.vocab) * self.idf  # (N, V)
        norm = x.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (N, 1)
        return x / norm  # (N, V)
