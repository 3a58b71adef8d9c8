"""Load the real LIAR data set (Wang, 2017) from its TSV files, if a reader has them.

The book never needs the download. To evaluate on real data, fetch ``liar_dataset.zip``
(https://www.cs.ucsb.edu/~william/data/liar_dataset.zip), unzip it, and pass the folder:
``load_liar("path/to/liar_dataset", "test")``. Each of ``train.tsv`` (10,269 rows),
``valid.tsv`` (1,284) and ``test.tsv`` (1,283) has 14 tab-separated columns, no header:

    id, label, statement, subject(s), speaker, job title, state, party,
    barely-true / false / half-true / mostly-true / pants-on-fire counts, context

The result is a :class:`~spark_edu.truthfulness.liar_like.Statements`, so every classifier
and metric in this package runs on it unchanged (``clean_labels6`` is ``None``: for real
data nobody knows the clean label or the Bayes-optimal accuracy).
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from spark_edu.truthfulness.liar_like import LIAR_LABELS, Statements

SPLITS = ("train", "valid", "test")
URL = "https://www.cs.ucsb.edu/~william/data/liar_dataset.zip"
N_COLUMNS = 14


def _slug(text: str) -> str:
    return "_".join(text.lower().split()) or "none"


def load_liar(folder: str | Path, split: str = "train") -> Statements:
    """Read ``<folder>/<split>.tsv``; ``FileNotFoundError`` (with the download link) when absent."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = Path(folder) / f"{split}.tsv"
    if not path.is_file():
        raise FileNotFoundError(
            f"LIAR file {path} not found. The book does not need it; to use real data, download "
            f"{URL}, unzip it and pass the folder holding train.tsv, valid.tsv and test.tsv."
        )
    label_index = {name: i for i, name in enumerate(LIAR_LABELS)}
    cols: dict[str, list] = {k: [] for k in ("statement", "speaker", "party", "subject", "venue", "label")}
    with path.open(newline="", encoding="utf-8") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row:
                continue
            if len(row) != N_COLUMNS:
                raise ValueError(f"{path}:{line_no}: expected {N_COLUMNS} tab-separated columns, got {len(row)}")
            if row[1] not in label_index:
                raise ValueError(f"{path}:{line_no}: label must be one of {LIAR_LABELS}, got {row[1]!r}")
            cols["label"].append(label_index[row[1]])
            cols["statement"].append(row[2])
            cols["subject"].append(_slug(row[3].split(",")[0]))
            cols["speaker"].append(_slug(row[4]))
            cols["party"].append(_slug(row[7]))
            cols["venue"].append(_slug(row[13]))
    if not cols["label"]:
        raise ValueError(f"{path} holds no statements")
    return Statements(
        tuple(cols["statement"]),
        tuple(cols["speaker"]),
        tuple(cols["party"]),
        tuple(cols["subject"]),
        tuple(cols["venue"]),
        torch.tensor(cols["label"]),
    )
