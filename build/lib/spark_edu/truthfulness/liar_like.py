"""Synthetic LIAR-like statements whose truth label is a known function of the text.

LIAR (Wang, 2017) holds 12,836 short political statements from PolitiFact, each with a
speaker, party, subject, venue ("context") and one of six labels, which binary studies
collapse at the middle (eq-truth-collapse):

    pants-fire, false, barely-true  →  0 (false)      half-true, mostly-true, true  →  1 (true)

Here every statement is assembled from slots, and its *clean* label is a stated function
of what the reader sees (eq-truth-score):

    s = w_evidence + w_magnitude + w_venue + w_speaker,   level = clip(s + 3, 0, 5)

(the cue weights are the tables below; topic, party and the number are deliberately
uninformative). An annotator then assigns a uniformly random label to a fraction
``noise`` = η of the statements. Knowing the text, the best any classifier can do is predict
the clean label, so (eq-truth-bayes)

    binary Bayes-optimal accuracy = 1 − η/2        six-way = 1 − 5η/6

for any class balance (a random six-way label lands on the wrong binary side half the time).

Worked example (``liar_like_statements(1000, noise=0.2, seed=0)``, first two rows)::

    "spk_eli_novak party_amber ctx_press_release subj_history | A peer-reviewed study found
     railway mileage in 1900 fell by 9 percent."
        s = +2 (study) + 0 (no hedge) + 0 (press release) + 0 (eli novak) = 2 → true (5); observed 5
    "spk_ivo_mendes party_violet ctx_press_release subj_history | Everyone knows the population
     of ancient rome fell by 8 percent."
        s = −2 (knows) + 0 + 0 − 1 (ivo mendes) = −3 → pants-fire (0); observed 5: a guessed label

``prototype_style_statements`` keeps the same texts but draws the label from LIAR's class
frequencies, ignoring the text: the kind of data the report's prototype generated, on
which no classifier can beat chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.validation import check_positive_int, check_range

#: LIAR's six labels, least to most true; binary collapse: index >= 3 is "true".
LIAR_LABELS = ("pants-fire", "false", "barely-true", "half-true", "mostly-true", "true")
#: Label counts in the whole LIAR data set (train + valid + test = 12,836), Wang (2017).
LIAR_COUNTS = (1050, 2511, 2108, 2638, 2466, 2063)

# --- the slots: (phrase, cue word, weight). A weighted phrase's cue word appears nowhere else. -----
EVIDENCE = (
    ("official records show", "records", 2),
    ("a peer-reviewed study found", "study", 2),
    ("government data suggest", "data", 1),
    ("reports say", None, 0),
    ("many people believe", "people", -1),
    ("a viral post claims", "post", -2),
    ("everyone knows", "knows", -2),
)
MAGNITUDE = (
    ("by roughly {n} percent", "roughly", 1),
    ("by {n} percent", None, 0),
    ("{n} times over", "times", -1),
    ("more than ever in history", "ever", -2),
)
VENUES = (
    ("fact_sheet", 1),
    ("interview", 0),
    ("debate", 0),
    ("press_release", 0),
    ("campaign_ad", -1),
    ("social_media", -1),
)
#: (speaker, party, credibility). Each party has one speaker of each credibility: party says nothing.
SPEAKERS = (
    ("ada_lin", "teal", 1),
    ("ben_okafor", "teal", 0),
    ("cy_varga", "teal", -1),
    ("dee_ramos", "amber", 1),
    ("eli_novak", "amber", 0),
    ("fay_osei", "amber", -1),
    ("gus_patel", "violet", 1),
    ("hana_berg", "violet", 0),
    ("ivo_mendes", "violet", -1),
)
SUBJECTS = {  # topic -> neutral subject phrases (political, scientific, historical claims)
    "economy": ("the unemployment rate", "gas prices", "the federal deficit", "tax revenue"),
    "science": ("sea levels", "measles cases", "vaccination rates", "solar power output"),
    "history": (
        "the population of ancient rome",
        "wartime grain exports",
        "railway mileage in 1900",
        "literacy in the 1850s",
    ),
}
CHANGES = ("rose", "fell", "grew", "dropped")
NUMBERS = tuple(range(2, 41))


def binary_collapse(labels6: torch.Tensor) -> torch.Tensor:
    """Six-way LIAR labels (0..5) → binary (0 false, 1 true), eq-truth-collapse."""
    if not bool(((labels6 >= 0) & (labels6 <= 5)).all()):
        raise ValueError("six-way labels must lie in {0, ..., 5}")
    return (labels6 >= 3).long()


@dataclass(frozen=True)
class Statements:
    """Statements with metadata and labels. ``text`` joins the metadata tokens and the statement."""

    statements: tuple[str, ...]
    speakers: tuple[str, ...]
    parties: tuple[str, ...]
    subjects: tuple[str, ...]
    venues: tuple[str, ...]
    labels6: torch.Tensor  # (N,) observed six-way label, 0 = pants-fire … 5 = true
    clean_labels6: torch.Tensor | None = None  # (N,) before annotator noise (synthetic data only)
    noise: float | None = None

    def __len__(self) -> int:
        return len(self.statements)

    @property
    def labels(self) -> torch.Tensor:
        """Binary labels (N,), eq-truth-collapse."""
        return binary_collapse(self.labels6)

    @property
    def texts(self) -> list[str]:
        return [
            f"spk_{sp} party_{pa} ctx_{ve} subj_{su} | {st}"
            for sp, pa, ve, su, st in zip(self.speakers, self.parties, self.venues, self.subjects, self.statements)
        ]


#: eq-truth-score as a word -> weight table: the label is a linear function of word counts.
CUE_WEIGHTS = {
    **{cue: w for _, cue, w in EVIDENCE + MAGNITUDE if cue is not None},
    **{f"ctx_{name}": w for name, w in VENUES},
    **{f"spk_{name}": w for name, _, w in SPEAKERS},
}


def truth_score(text: str) -> int:
    """eq-truth-score read back from the text alone: the sum of the cue words' weights."""
    from spark_edu.truthfulness.text import tokenize

    return sum(CUE_WEIGHTS.get(w, 0) for w in tokenize(text))


def clean_level(text: str) -> int:
    """The clean six-way label of a generated text: ``clip(s + 3, 0, 5)``."""
    return min(5, max(0, truth_score(text) + 3))


def _draw(n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    sizes = {
        "evidence": len(EVIDENCE),
        "magnitude": len(MAGNITUDE),
        "venue": len(VENUES),
        "speaker": len(SPEAKERS),
        "topic": len(SUBJECTS),
        "subject": 4,
        "change": len(CHANGES),
        "number": len(NUMBERS),
    }
    return {k: torch.randint(m, (n,), generator=g) for k, m in sizes.items()}


def _render(slots: dict[str, torch.Tensor], i: int) -> tuple[str, str, str, str, str, int]:
    topic = list(SUBJECTS)[int(slots["topic"][i])]
    evidence, _, w_e = EVIDENCE[int(slots["evidence"][i])]
    magnitude, _, w_m = MAGNITUDE[int(slots["magnitude"][i])]
    venue, w_v = VENUES[int(slots["venue"][i])]
    speaker, party, w_s = SPEAKERS[int(slots["speaker"][i])]
    subject = SUBJECTS[topic][int(slots["subject"][i])]
    change = CHANGES[int(slots["change"][i])]
    number = NUMBERS[int(slots["number"][i])]
    text = f"{evidence} {subject} {change} {magnitude.format(n=number)}."
    return text[0].upper() + text[1:], speaker, party, topic, venue, w_e + w_m + w_v + w_s


def liar_like_statements(n: int = 1000, noise: float = 0.2, balance: float = 0.5, seed: int = 0) -> Statements:
    """``n`` statements with ``round(balance · n)`` clean-true ones; a fraction ``noise`` relabelled at random.

    Statements are drawn slot by slot, uniformly, and kept until each binary class has its
    quota (so the *clean* labels are exactly balanced; the observed ones are balanced up to
    the noise's sampling error). Deterministic for a given ``seed``.
    """
    check_positive_int("n", n, minimum=2)
    check_range("noise", noise, 0.0, 1.0)
    check_range("balance", balance, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    g = torch.Generator().manual_seed(seed)
    quota = {1: round(balance * n), 0: n - round(balance * n)}
    rows: dict[int, list] = {0: [], 1: []}
    while len(rows[0]) < quota[0] or len(rows[1]) < quota[1]:
        slots = _draw(2 * n, g)
        for i in range(2 * n):
            row = _render(slots, i)
            c = int(row[-1] >= 0)
            if len(rows[c]) < quota[c]:
                rows[c].append(row)
    chosen = rows[0] + rows[1]
    order = torch.randperm(n, generator=g).tolist()
    chosen = [chosen[i] for i in order]
    clean = torch.tensor([min(5, max(0, r[-1] + 3)) for r in chosen])  # (N,) eq-truth-score
    relabel = torch.rand(n, generator=g) < noise  # (N,) which labels the annotator guessed
    guessed = torch.randint(6, (n,), generator=g)  # (N,) uniform over the six labels
    observed = torch.where(relabel, guessed, clean)
    cols = list(zip(*chosen))
    return Statements(
        tuple(cols[0]), tuple(cols[1]), tuple(cols[2]), tuple(cols[3]), tuple(cols[4]), observed, clean, float(noise)
    )


def prototype_style_statements(
    n: int = 1000, seed: int = 0, class_weights: tuple[float, ...] = LIAR_COUNTS
) -> Statements:
    """The same kind of text, but labels drawn from ``class_weights`` independently of it.

    With LIAR's frequencies the binary collapse is 56% true, not balanced; whatever the
    weights, no classifier can beat the majority-class rate in expectation (AUC 0.5).
    """
    check_positive_int("n", n, minimum=2)
    if len(class_weights) != 6 or min(class_weights) < 0 or sum(class_weights) <= 0:
        raise ValueError("class_weights must be six non-negative numbers with a positive sum")
    base = liar_like_statements(n, noise=0.0, balance=0.5, seed=seed)
    g = torch.Generator().manual_seed(seed + 1_000_003)
    weights = torch.tensor(class_weights, dtype=torch.float64)
    labels6 = torch.multinomial(weights, n, replacement=True, generator=g)  # (N,) ignores the text
    return Statements(
        base.statements, base.speakers, base.parties, base.subjects, base.venues, labels6, base.clean_labels6, None
    )


def bayes_optimal(noise: float, balance: float = 0.5) -> dict[str, float]:
    """Best achievable binary accuracy, six-way accuracy and ROC AUC on the observed labels.

    With flip rate q = η/2 on the binary side, the posterior P(y=1 | text) takes two values
    (1 − q and q); accuracy is 1 − q for every balance b, and the AUC of that posterior is
    α(1 − β) + ½[αβ + (1 − α)(1 − β)] with α = P(clean true | y = 1), β = P(clean true | y = 0).
    """
    check_range("noise", noise, 0.0, 1.0)
    check_range("balance", balance, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    q, b = noise / 2, balance
    p1 = b * (1 - q) + (1 - b) * q  # P(y = 1)
    alpha = b * (1 - q) / p1
    beta = b * q / (1 - p1)
    auc = alpha * (1 - beta) + 0.5 * (alpha * beta + (1 - alpha) * (1 - beta))
    return {"accuracy": 1 - q, "accuracy6": 1 - 5 * noise / 6, "auc": auc}
