"""Palindromes among random sequences: the SPaR-K prototype's end-to-end next-token task.

A data set holds ``n_sequences`` sequences of ``length`` tokens drawn uniformly from
``1 … vocab_size − 2`` (the prototype's ``randint(1, vocab_size − 1)``; 0 and the last id are
never used). A fraction ``palindrome_fraction`` of them are palindromes: a random first half
followed by its mirror image. A model reads ``tokens[:, :-1]`` and predicts
``tokens[:, 1:]``. Only the second half of a palindrome can be predicted; everything else
is uniform noise (accuracy 1/(V − 2) at best).

Worked example (``length=6``, a palindrome with first half ``7 3 9``)::

    tokens     7 3 9 9 3 7
    inputs     7 3 9 9 3          (tokens[:-1])
    targets      3 9 9 3 7        (tokens[1:], target j is token j + 1)
    predictable  . . x x x        (targets that are tokens 3, 4, 5: the second half)

The first target of the second half (token 3 = token 2) is not certain from the prefix,
but "repeat the last token" is the best guess for it, and it is right for every
palindrome, so a perfect model scores 1.0 on all ``predictable`` targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.validation import check_positive_int, check_range


@dataclass(frozen=True)
class PalindromeConfig:
    n_sequences: int = 800  # the prototype's training set
    length: int = 32
    vocab_size: int = 50
    palindrome_fraction: float = 0.3

    def __post_init__(self):
        check_positive_int("n_sequences", self.n_sequences)
        check_positive_int("length", self.length, minimum=2)
        if self.length % 2:
            raise ValueError(f"length must be even (a first half and its mirror), got {self.length}")
        check_positive_int("vocab_size", self.vocab_size, minimum=4)
        check_range("palindrome_fraction", self.palindrome_fraction, 0.0, 1.0)


@dataclass(frozen=True)
class PalindromeData:
    tokens: torch.Tensor  # (N, L) int64
    is_palindrome: torch.Tensor  # (N,) bool

    @property
    def inputs(self) -> torch.Tensor:
        return self.tokens[:, :-1]  # (N, L-1)

    @property
    def targets(self) -> torch.Tensor:
        return self.tokens[:, 1:]  # (N, L-1)

    @property
    def predictable(self) -> torch.Tensor:
        """(N, L-1) bool: targets in the second half of a palindrome."""
        return predictable_mask(self.is_palindrome, self.tokens.shape[1])

    def __len__(self) -> int:
        return self.tokens.shape[0]


def predictable_mask(is_palindrome: torch.Tensor, length: int) -> torch.Tensor:
    """(N,) bool -> (N, length − 1) bool: target j (token j + 1) with j + 1 ≥ length / 2, palindromes only."""
    j = torch.arange(length - 1)  # (L-1,)
    second_half = (j + 1) >= length // 2  # (L-1,)
    return is_palindrome[:, None] & second_half[None, :]


def make_dataset(config: PalindromeConfig, generator: torch.Generator) -> PalindromeData:
    """``config.n_sequences`` sequences; exactly ``round(fraction · n)`` palindromes, in random order."""
    N, L, V = config.n_sequences, config.length, config.vocab_size
    tokens = torch.randint(1, V - 1, (N, L), generator=generator)  # (N, L)
    n_pal = round(config.palindrome_fraction * N)
    is_palindrome = torch.zeros(N, dtype=torch.bool)
    is_palindrome[torch.randperm(N, generator=generator)[:n_pal]] = True
    half = tokens[:, : L // 2]  # (N, L/2)
    mirrored = torch.cat([half, half.flip(-1)], dim=-1)  # (N, L)
    tokens = torch.where(is_palindrome[:, None], mirrored, tokens)
    return PalindromeData(tokens, is_palindrome)


def repeat_last_accuracy(data: PalindromeData) -> float:
    """Accuracy on the predictable targets of the rule "the next token repeats this one".

    It is right on the first target of every second half (token L/2 = token L/2 − 1) and by
    coincidence elsewhere, so it scores about 2/L + (1 − 2/L)/(V − 2): the level a model reaches
    by learning this one rule, above uniform chance, below reading the mirror.
    """
    hits = data.inputs == data.targets  # (N, L-1)
    mask = data.predictable
    if not bool(mask.any()):
        raise ValueError("data holds no palindrome: there are no predictable targets to score")
    return float(hits[mask].float().mean())
