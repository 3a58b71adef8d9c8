"""The TruthfulQA-like experiment of the truthfulness chapter: does a classifier know a fact,
or remember a sentence?

The first version held out the last 300 of 1,000 (question | answer) rows. The world has 36
facts and 72 distinct texts, so every test text was also a training text, and the held-out
AUC (0.98 for the transformer) measured memory. Here each seed draws a new world and holds
out a quarter of its *facts* (:func:`~spark_edu.truthfulness.truthfulqa_like.fact_split`):
no test question occurs in training, and the printed overlap is zero. The split by row is
run beside it on the same world, with its overlap printed too. AUCs are computed on the
distinct test texts (a repeated row adds no evidence) and summarised over seeds with a 95%
Student-t interval. Both classifiers keep their fixed defaults (no tuning at all).
"""

from __future__ import annotations

from functools import partial

import torch

from spark_edu.device import one_thread
from spark_edu.display import Table
from spark_edu.measure import mean_interval
from spark_edu.pool import job_pool
from spark_edu.truthfulness.classifiers import (
    TfidfLogisticRegression,
    TransformerClassifier,
    TransformerClassifierConfig,
)
from spark_edu.truthfulness.metrics import roc_auc
from spark_edu.truthfulness.truthfulqa_like import (
    QAPairs,
    fact_split,
    imitation_scores,
    mc1_accuracy,
    multiple_choice_items,
    truthfulqa_like,
)

SPLITS = ("by row", "by fact")
CLASSIFIERS = ("bag-of-words LR", "transformer")


def overlap(train: QAPairs, test: QAPairs) -> dict[str, float]:
    """Fractions of test rows whose text, and whose fact, also occur in training."""
    texts, facts = set(train.texts), set(train.facts)
    return {
        "texts": sum(t in texts for t in test.texts) / len(test.texts),
        "facts": sum(f in facts for f in test.facts) / len(test.facts),
    }


def _distinct(pairs: QAPairs) -> tuple[list[str], torch.Tensor]:
    """Each distinct text once, with its label (labels are a function of the text at noise 0)."""
    seen: dict[str, int] = {}
    for text, label in zip(pairs.texts, pairs.labels.tolist()):
        seen.setdefault(text, label)
    return list(seen), torch.tensor(list(seen.values()))


def _rows(pairs: QAPairs, rows: slice) -> QAPairs:
    return QAPairs(pairs.texts[rows], pairs.labels[rows], pairs.clean_labels[rows], pairs.noise, pairs.facts[rows])


TEST_SHARE = 0.25  # the share of the world's facts held out whole by the split by fact


def one_seed(seed: int, n_train: int = 750, n_test: int = 250, steps: int = 250) -> dict:
    """Both splits of one world: overlap, held-out AUC and MC1 of both classifiers."""
    world, by_fact_train, by_fact_test = fact_split(n_train, n_test, TEST_SHARE, 0.0, seed)
    _, rows = truthfulqa_like(n_train + n_test, 0.0, seed)
    splits = {
        "by row": (_rows(rows, slice(None, n_train)), _rows(rows, slice(n_train, None))),
        "by fact": (by_fact_train, by_fact_test),
    }
    fits = {
        "bag-of-words LR": TfidfLogisticRegression.fit,
        "transformer": partial(TransformerClassifier.fit, config=TransformerClassifierConfig(steps=steps, seed=seed)),
    }
    items = multiple_choice_items(world, seed=seed)
    out = {"seed": seed}
    for split, (train, test) in splits.items():
        test_x, test_y = _distinct(test)
        held_out = [it for it in items if (it.entity, it.attribute) in set(test.facts)]
        out[split] = {"overlap": overlap(train, test), "n_distinct": len(test_x), "n_items": len(held_out)}
        for name, fit in fits.items():
            with one_thread():
                model = fit(list(train.texts), train.labels)
            scores = [model.predict_proba([f"{it.question} | {c}" for c in it.choices]) for it in held_out]
            out[split][name] = {
                "auc": roc_auc(test_y, model.predict_proba(test_x)),
                "mc1": mc1_accuracy(held_out, scores),
            }
    out["mc1 imitation"] = mc1_accuracy(items, imitation_scores(world, items, seed=seed))
    return out


def run(seeds=(0, 1, 2, 3, 4), n_train: int = 750, n_test: int = 250, steps: int = 250, workers: int = 1) -> dict:
    """:func:`one_seed` for each seed, and ``summary[split][classifier][metric] = (mean, low, high)``.

    ``workers``: seeds run at once, each in its own process (the results do not depend on it)."""
    with job_pool(workers) as pool:
        jobs = [pool.submit(one_seed, s, n_train, n_test, steps) for s in seeds]
        per_seed = [job.result() for job in jobs]
    summary = {
        split: {
            name: {m: mean_interval([r[split][name][m] for r in per_seed], 0.0, 1.0) for m in ("auc", "mc1")}
            for name in CLASSIFIERS
        }
        for split in SPLITS
    }
    for split in SPLITS:  # the largest overlap over the seeds: 0 for the split by fact
        summary[split]["overlap"] = {k: max(r[split]["overlap"][k] for r in per_seed) for k in ("texts", "facts")}
    return {"seeds": tuple(seeds), "per_seed": per_seed, "summary": summary, "steps": steps}


def format_summary(result: dict) -> Table:
    """One row per (split, classifier): the largest text overlap over seeds, AUC and MC1 with 95% intervals."""
    s = result["summary"]
    rows = [
        [split, name, s[split]["overlap"]["texts"], tuple(s[split][name]["auc"]), tuple(s[split][name]["mc1"])]
        for split in SPLITS
        for name in CLASSIFIERS
    ]
    columns = ["split", "classifier", "test rows seen (max)", "AUC [95% CI]", "MC1 [95% CI]"]
    return Table(rows, columns, {c: ".3f" for c in columns[2:]})
