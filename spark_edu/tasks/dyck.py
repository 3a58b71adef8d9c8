"""Dyck-1 and Dyck-2 strings: valid ones, minimally corrupted invalid ones, depth labels.

A Dyck-k string is a well-nested string over k bracket pairs; Dyck-1 uses ``()`` and Dyck-2
``()[]``. Valid strings come from a random walk on the nesting depth that is forced to reach
a chosen maximum depth and to end at zero; invalid strings are valid ones with *one* edit
that keeps the length (flip a bracket's direction, change its type, or swap two neighbours),
re-drawn until the result is invalid, so length parity gives nothing away. Every batch has
exactly as many valid as invalid strings.

Encoding, worked example (Dyck-2, ``"([])]"`` padded to length 6)::

    symbols      (    [    ]    )    ]    <pad>
    tokens       1    3    4    2    4    0        PAD = 0, ( ) [ ] = 1 2 3 4
    mask         1    1    1    1    1    0        padding is ignored everywhere
    depth        1    2    1    0    0    0        size of an ordinary stack after the token
    prefix_ok    1    1    1    1    0    0        no underflow / mismatch so far
    valid        0                                 prefix_ok at the end and depth 0 there

A closing bracket on an empty stack is an underflow (the stack stays empty); a closing
bracket of the wrong type is a mismatch (the top is still popped).

Disjoint parts. :func:`part_of` assigns every string, once and for all, to one of ``PARTS``
by a stable hash (CRC-32 of its symbols, mod 10: 0 is ``"test"``, 1 is ``"val"``, the rest
``"train"``). Drawing with ``part=`` keeps only strings of that part (re-drawing the others),
so training batches and test sets drawn with different parts can never share a string, however
many are drawn; ``unique=True`` also removes duplicates. The price: the test part holds a
tenth of the short strings, so a deduplicated test set leans towards longer strings.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from spark_edu.validation import check_positive_int

PAD = 0
ALPHABET = "()[]"  # token id = 1 + index
OPEN, CLOSE = "([", ")]"
PARTS = ("train", "val", "test")
_MAX_REDRAWS = 10_000  # attempts to find a string of the asked part (or a new one) before giving up


@dataclass(frozen=True)
class DyckConfig:
    """Which strings to draw: ``n_types`` bracket pairs, even lengths in
    ``[min_length, max_length]``, maximum nesting depth in ``[min_depth, max_depth]``."""

    n_types: int = 1
    min_length: int = 2
    max_length: int = 16
    min_depth: int = 1
    max_depth: int = 4

    def __post_init__(self):
        if self.n_types not in (1, 2):
            raise ValueError(f"n_types must be 1 or 2, got {self.n_types!r}")
        check_positive_int("min_length", self.min_length, minimum=2)
        check_positive_int("max_length", self.max_length, minimum=self.min_length)
        check_positive_int("min_depth", self.min_depth)
        check_positive_int("max_depth", self.max_depth, minimum=self.min_depth)
        if 2 * self.min_depth > self.max_length:
            raise ValueError(
                f"min_depth={self.min_depth} needs strings of length >= {2 * self.min_depth}, "
                f"but max_length={self.max_length}"
            )
        if self.shortest > self.max_length:
            raise ValueError(
                f"valid strings have even length, and [min_length, max_length] = [{self.min_length}, "
                f"{self.max_length}] holds none"
            )

    @property
    def shortest(self) -> int:
        """The shortest length drawn: even, at least ``min_length``, and deep enough for ``min_depth``."""
        return max(self.min_length + self.min_length % 2, 2 * self.min_depth)


@dataclass(frozen=True)
class DyckBatch:
    strings: list[str]
    tokens: torch.Tensor  # (B, T) int64, PAD after the end
    mask: torch.Tensor  # (B, T) bool, True on real symbols
    depth: torch.Tensor  # (B, T) int64 nesting depth after each symbol
    prefix_ok: torch.Tensor  # (B, T) bool
    valid: torch.Tensor  # (B,) bool

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)

    @property
    def max_depth(self) -> torch.Tensor:
        return self.depth.max(dim=1).values


def _check_string(s: str) -> None:
    if not isinstance(s, str) or len(s) == 0:
        raise ValueError(f"each string must be a non-empty str, got {s!r}")
    bad = sorted(set(s) - set(ALPHABET))
    if bad:
        raise ValueError(f"unknown symbols {bad} in {s!r}; allowed symbols are {ALPHABET!r}")


def trace(s: str) -> tuple[list[int], list[bool]]:
    """Run an ordinary stack over ``s``: depth after each symbol and "prefix still OK"."""
    _check_string(s)
    stack, depths, oks, ok = [], [], [], True
    for ch in s:
        if ch in OPEN:
            stack.append(ch)
        elif not stack:
            ok = False  # underflow: nothing to close
        else:
            top = stack.pop()  # always pop, even after an earlier error
            ok = ok and OPEN[CLOSE.index(ch)] == top  # mismatch if the types differ
        depths.append(len(stack))
        oks.append(ok)
    return depths, oks


def is_valid(s: str) -> bool:
    """The reference recogniser: every prefix OK and the stack empty at the end."""
    depths, oks = trace(s)
    return oks[-1] and depths[-1] == 0


def _randint(low: int, high: int, g: torch.Generator) -> int:
    """Uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


def sample_valid(config: DyckConfig, g: torch.Generator) -> str:
    """One valid string whose maximum depth is exactly ``d`` ~ U[min_depth, max_depth]."""
    n = 2 * _randint(config.shortest // 2, config.max_length // 2, g)
    d = _randint(config.min_depth, min(config.max_depth, n // 2), g)
    n = max(n, 2 * d)
    coins = torch.rand(n, generator=g).tolist()
    kinds = torch.randint(0, config.n_types, (n,), generator=g).tolist()
    out, stack, peak = [], [], 0
    for i in range(n):
        h, left = len(stack), n - i
        must_open = h == 0 or (peak < d and left == (d - h) + d)
        must_close = h == d or h == left
        if must_open or (not must_close and coins[i] < 0.5):
            stack.append(kinds[i])
            out.append(OPEN[kinds[i]])
            peak = max(peak, len(stack))
        else:
            out.append(CLOSE[stack.pop()])
    return "".join(out)


def corrupt(s: str, n_types: int, g: torch.Generator) -> str:
    """One length-preserving edit of ``s`` that makes it invalid (re-drawn until it does)."""
    _check_string(s)
    if n_types not in (1, 2):
        raise ValueError(f"n_types must be 1 or 2, got {n_types!r}")
    edits = ["flip", "swap"] + (["type"] if n_types == 2 else [])
    for _ in range(1000):
        chars = list(s)
        edit = edits[_randint(0, len(edits) - 1, g)]
        i = _randint(0, len(s) - 1, g)
        if edit == "flip":  # ( <-> )
            pair = ALPHABET.index(chars[i]) // 2
            chars[i] = ALPHABET[2 * pair + (chars[i] in OPEN)]
        elif edit == "type":  # ( <-> [, ) <-> ]
            chars[i] = ALPHABET[(ALPHABET.index(chars[i]) + 2) % 4]
        elif len(s) > 1:  # swap neighbours i, i+1
            i = min(i, len(s) - 2)
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        out = "".join(chars)
        if not is_valid(out):
            return out
    raise RuntimeError(f"could not corrupt {s!r}")  # pragma: no cover - every flip invalidates


def encode(strings: list[str]) -> DyckBatch:
    """Tokens, mask and labels for a list of non-empty strings over ``()[]``, padded with PAD."""
    if len(strings) == 0:
        raise ValueError("strings must contain at least one string")
    for s in strings:
        _check_string(s)
    B, T = len(strings), max(len(s) for s in strings)
    tokens = torch.full((B, T), PAD, dtype=torch.long)
    depth = torch.zeros(B, T, dtype=torch.long)
    prefix_ok = torch.zeros(B, T, dtype=torch.bool)
    valid = torch.zeros(B, dtype=torch.bool)
    for b, s in enumerate(strings):
        depths, oks = trace(s)
        tokens[b, : len(s)] = torch.tensor([1 + ALPHABET.index(ch) for ch in s])
        depth[b, : len(s)] = torch.tensor(depths)
        prefix_ok[b, : len(s)] = torch.tensor(oks)
        valid[b] = oks[-1] and depths[-1] == 0
    return DyckBatch(list(strings), tokens, tokens != PAD, depth, prefix_ok, valid)


def part_of(s: str) -> str:
    """The part ``s`` belongs to: ``"test"`` (CRC-32 mod 10 = 0), ``"val"`` (1) or ``"train"``."""
    _check_string(s)
    bucket = zlib.crc32(s.encode()) % 10
    return PARTS[2] if bucket == 0 else PARTS[1] if bucket == 1 else PARTS[0]


def _draw(make, part: str | None, seen: set[str] | None) -> str:
    """``make()`` again until its string is of ``part`` (any if None) and not in ``seen``."""
    for _ in range(_MAX_REDRAWS):
        s = make()
        if (part is None or part_of(s) == part) and (seen is None or s not in seen):
            if seen is not None:
                seen.add(s)
            return s
    raise ValueError(
        f"no new string of part {part!r} found in {_MAX_REDRAWS} draws: the configuration holds too few "
        "distinct strings; ask for fewer, or allow duplicates (unique=False)"
    )


def sample_strings(
    n: int, config: DyckConfig, g: torch.Generator, part: str | None = None, unique: bool = False
) -> list[str]:
    """``n`` strings (``n`` even): valid and corrupted alternate, so classes are exactly balanced.

    ``part`` (one of ``PARTS``) keeps only strings of that part (:func:`part_of`); ``unique``
    returns ``n`` distinct strings. The defaults draw exactly as before these options existed.
    """
    check_positive_int("n", n)
    if n % 2:
        raise ValueError(f"n must be even so the classes balance, got {n}")
    if part is not None and part not in PARTS:
        raise ValueError(f"part must be one of {PARTS} or None, got {part!r}")
    if part is None and not unique:
        out = []
        for _ in range(n // 2):
            out.append(sample_valid(config, g))
            out.append(corrupt(sample_valid(config, g), config.n_types, g))
        return out
    seen = set() if unique else None
    out = []
    for _ in range(n // 2):
        out.append(_draw(lambda: sample_valid(config, g), part, seen))
        out.append(_draw(lambda: corrupt(sample_valid(config, g), config.n_types, g), part, seen))
    return out


def make_dataset(
    n: int, config: DyckConfig, g: torch.Generator, part: str | None = None, unique: bool = False
) -> DyckBatch:
    """A balanced, encoded set of ``n`` strings drawn with ``g`` (``part``, ``unique``: see :func:`sample_strings`)."""
    return encode(sample_strings(n, config, g, part, unique))
