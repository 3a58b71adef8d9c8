"""Synthetic TruthfulQA-like questions: a true answer and a popular misconception for each.

TruthfulQA (Lin et al., 2022) asks 817 questions over 38 categories whose false answers
are ones many humans give ("imitative falsehoods"); it scores free generations by human
or fine-tuned GPT judges, and multiple-choice variants by whether the model prefers the
true answer (MC1: the single best choice must be the true one).

Here the "world" is a seeded table of fictional animals (entities) with three attributes
(colour, food, home). For each (entity, attribute) the world holds a true value and a
*misconception* value drawn from the same pool, so every answer word is true for some
animals and false for others: truth is an interaction between question and answer, which
a bag of words cannot express and a transformer can learn. A pair's label is the known
function ``label = [answer == world.truth[entity, attribute]]``, then flipped with
probability ``noise`` = η (Bayes-optimal accuracy 1 − η).

Worked example (``truthfulqa_like(seed=0)``, first pair)::

    text  = "what does a blick eat | blick eat seeds"     entity blick, attribute food
    label = 1: the world says blicks eat seeds (their myth is another food); η flips some labels

``fact_split`` holds whole facts out: its test questions (and so its test texts) never occur
in training, which is the only honest way to ask whether a classifier *knows* a fact rather
than remembers a sentence. (A split of the pairs by row does not do that: with 36 facts and
72 distinct texts, a test row's text is almost always in training.)

``imitation_scores`` scores answers by how often a synthetic "web" repeats them; with
misconceptions repeated more often than truths, imitation picks the false answer: the
effect TruthfulQA was built to expose.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spark_edu.validation import check_positive_int, check_range

ENTITIES = ("zorp", "blick", "quann", "drell", "mibbet", "toska", "vurl", "snee", "grobe", "piffle", "wexa", "lunder")
VALUES = {
    "colour": ("red", "blue", "green", "yellow", "white", "black"),
    "food": ("seeds", "fish", "leaves", "insects", "fruit", "moss"),
    "home": ("caves", "rivers", "trees", "deserts", "mountains", "marshes"),
}
QUESTIONS = {"colour": "what colour is a {e}", "food": "what does a {e} eat", "home": "where does a {e} live"}
ANSWERS = {"colour": "{e} is {v}", "food": "{e} eat {v}", "home": "{e} live in {v}"}
#: Every fact of the world: one (entity, attribute) question with a true and a myth answer.
FACTS = tuple((e, a) for e in ENTITIES for a in VALUES)


@dataclass(frozen=True)
class World:
    """truth[e][a] and myth[e][a] (a different value) for each entity e and attribute a."""

    truth: dict
    myth: dict

    @classmethod
    def sample(cls, seed: int = 0) -> World:
        """Each value is the truth for exactly two animals and the myth for exactly two others."""
        g = torch.Generator().manual_seed(seed)
        truth = {e: {} for e in ENTITIES}
        myth = {e: {} for e in ENTITIES}
        for a, values in VALUES.items():
            m = len(values)
            slots = torch.randperm(len(ENTITIES), generator=g) % m  # (E,) each value index twice
            shift = int(torch.randint(1, m, (1,), generator=g))  # myth = truth shifted: never equal
            for e, k in zip(ENTITIES, slots.tolist()):
                truth[e][a], myth[e][a] = values[k], values[(k + shift) % m]
        return cls(truth, myth)


@dataclass(frozen=True)
class QAItem:
    question: str
    choices: tuple[str, ...]
    correct: int  # index of the true answer in ``choices``
    entity: str
    attribute: str


@dataclass(frozen=True)
class QAPairs:
    """(question | answer) texts with binary labels; ``clean_labels`` before the flips."""

    texts: tuple[str, ...]
    labels: torch.Tensor  # (N,)
    clean_labels: torch.Tensor  # (N,)
    noise: float
    facts: tuple[tuple[str, str], ...] = ()  # (N,) the (entity, attribute) each pair asks about


def multiple_choice_items(world: World, n_choices: int = 4, seed: int = 0) -> list[QAItem]:
    """One item per (entity, attribute): the truth, the misconception and random distractors."""
    check_positive_int("n_choices", n_choices, minimum=2)
    if n_choices > 6:
        raise ValueError(f"n_choices must be at most 6 (values per attribute), got {n_choices}")
    g = torch.Generator().manual_seed(seed)
    items = []
    for e in ENTITIES:
        for a, values in VALUES.items():
            others = [v for v in values if v not in (world.truth[e][a], world.myth[e][a])]
            picks = [others[i] for i in torch.randperm(len(others), generator=g)[: n_choices - 2].tolist()]
            values_shown = [world.truth[e][a], world.myth[e][a], *picks]
            order = torch.randperm(n_choices, generator=g).tolist()
            choices = tuple(ANSWERS[a].format(e=e, v=values_shown[i]) for i in order)
            items.append(QAItem(QUESTIONS[a].format(e=e), choices, order.index(0), e, a))
    return items


#: Every fact of the world: one (entity, attribute) question, with one true and one myth answer.
FACTS = tuple((e, a) for e in ENTITIES for a in VALUES)


def _pairs(world: World, n: int, noise: float, g: torch.Generator, facts) -> QAPairs:
    if facts is None:
        entity = torch.randint(len(ENTITIES), (n,), generator=g)
        attribute = torch.randint(len(VALUES), (n,), generator=g)
        drawn = [(ENTITIES[e], list(VALUES)[a]) for e, a in zip(entity.tolist(), attribute.tolist())]
    else:
        drawn = [facts[i] for i in torch.randint(len(facts), (n,), generator=g).tolist()]
    clean = (torch.randperm(n, generator=g) % 2).flip(0)  # (N,) exactly half true
    texts = []
    for (e, a), c in zip(drawn, clean.tolist()):
        v = world.truth[e][a] if c else world.myth[e][a]
        texts.append(f"{QUESTIONS[a].format(e=e)} | {ANSWERS[a].format(e=e, v=v)}")
    flip = torch.rand(n, generator=g) < noise
    labels = torch.where(flip, 1 - clean, clean)
    return QAPairs(tuple(texts), labels, clean, float(noise), tuple(drawn))


def _check_facts(facts) -> None:
    unknown = [f for f in facts if f not in FACTS]
    if not facts or unknown:
        raise ValueError(f"facts must be a non-empty subset of FACTS, got unknown ones {unknown[:3]}")


def truthfulqa_like(n: int = 1000, noise: float = 0.0, seed: int = 0, facts=None) -> tuple[World, QAPairs]:
    """``n`` (question | answer) pairs, half true answers and half misconceptions, labels flipped w.p. ``noise``.

    Each pair asks about a uniformly drawn fact: any of :data:`FACTS`, or one of ``facts``.
    """
    check_positive_int("n", n, minimum=2)
    check_range("noise", noise, 0.0, 1.0)
    if facts is not None:
        _check_facts(facts)
    world = World.sample(seed)
    return world, _pairs(world, n, noise, torch.Generator().manual_seed(seed + 1), facts)


def split_facts(test_fraction: float = 0.25, seed: int = 0) -> tuple[tuple, tuple]:
    """(train facts, test facts): a seeded ``test_fraction`` of :data:`FACTS` held out whole."""
    check_range("test_fraction", test_fraction, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    n_test = max(1, min(len(FACTS) - 1, round(test_fraction * len(FACTS))))
    order = torch.randperm(len(FACTS), generator=torch.Generator().manual_seed(seed + 2)).tolist()
    test = tuple(FACTS[i] for i in sorted(order[:n_test]))
    return tuple(f for f in FACTS if f not in test), test


def fact_split(
    n_train: int = 750, n_test: int = 250, test_fraction: float = 0.25, noise: float = 0.0, seed: int = 0
) -> tuple[World, QAPairs, QAPairs]:
    """(world, train pairs, test pairs) of one world; the test pairs ask only about held-out facts.

    No test fact, hence no test question and no test (question | answer) text, occurs in training.
    """
    check_positive_int("n_train", n_train, minimum=2)
    check_positive_int("n_test", n_test, minimum=2)
    check_range("noise", noise, 0.0, 1.0)
    train_facts, test_facts = split_facts(test_fraction, seed)
    world = World.sample(seed)
    g = torch.Generator().manual_seed(seed + 1)
    return world, _pairs(world, n_train, noise, g, train_facts), _pairs(world, n_test, noise, g, test_facts)


def imitation_scores(
    world: World, items: list[QAItem], n_posts: int = 20, myth_rate: float = 0.7, seed: int = 0
) -> list[torch.Tensor]:
    """Score each choice by how often a synthetic web of ``n_posts`` posts per fact repeats it.

    Each post about (entity, attribute) states the misconception with probability
    ``myth_rate``, else the truth. A model that imitates its training text ranks answers
    by these counts.
    """
    check_positive_int("n_posts", n_posts)
    check_range("myth_rate", myth_rate, 0.0, 1.0)
    g = torch.Generator().manual_seed(seed)
    scores = []
    for item in items:
        myth_posts = int((torch.rand(n_posts, generator=g) < myth_rate).sum())
        counts = {
            world.myth[item.entity][item.attribute]: myth_posts,
            world.truth[item.entity][item.attribute]: n_posts - myth_posts,
        }
        scores.append(torch.tensor([float(counts.get(c.split()[-1], 0)) for c in item.choices]))
    return scores


def mc1_accuracy(items: list[QAItem], scores: list[torch.Tensor]) -> float:
    """MC1: the fraction of items whose highest-scoring choice is the true one (ties count as wrong)."""
    if len(items) != len(scores) or not items:
        raise ValueError(f"items and scores must be non-empty and of equal length, got {len(items)} and {len(scores)}")
    hits = 0
    for item, s in zip(items, scores):
        if len(s) != len(item.choices):
            raise ValueError(f"each score vector needs one entry per choice ({len(item.choices)}), got {len(s)}")
        best = s.max()
        hits += int(s[item.correct] == best and int((s == best).sum()) == 1)
    return hits / len(items)
