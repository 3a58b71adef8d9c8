"""Re-measure every claim of both reports and write the audit: ``claims.csv`` and ``claims.md``.

Each chapter's module ``spark_edu.chapters.<chapter>.experiments`` exposes
``reproduce(quick: bool = False) -> list[Measurement]``, the same functions its notebook
calls. This module runs them, judges each measurement with :func:`spark_edu.claims.verdict`,
and records the environment it ran in. Command line: ``python -m spark_edu reproduce``.
"""

from __future__ import annotations

import csv
import datetime
import importlib
import io
import json
import time
from pathlib import Path

import torch

from spark_edu.claims import CLAIMS, VERDICTS, ComparisonTable, Measurement, Row, verdict
from spark_edu.device import describe_environment, seed_everything
from spark_edu.chapters import CHAPTERS
from spark_edu.train import progress

SEED = 0
FIELDS = (
    "key",
    "report",
    "section",
    "quantity",
    "claimed",
    "measured",
    "low",
    "high",
    "unit",
    "verdict",
    "why",
    "chapter",
)


def run_chapter(chapter: str, quick: bool = False) -> list[Measurement]:
    """Run one chapter's reproductions; check it answered every one of its claims."""
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {list(CHAPTERS)}, got {chapter!r}")
    seed_everything(SEED)
    module = importlib.import_module(f"spark_edu.chapters.{chapter}.experiments")
    measurements = module.reproduce(quick=quick)
    expected = {k for k, c in CLAIMS.items() if c.chapter == chapter}
    got = [m.key for m in measurements]
    if set(got) != expected or len(got) != len(set(got)):
        missing, extra = sorted(expected - set(got)), sorted(set(got) - expected)
        raise RuntimeError(f"{chapter}.reproduce must answer each of its claims once; missing {missing}, extra {extra}")
    return measurements


def reproduce(
    chapters=CHAPTERS, quick: bool = False, out: Path | str = "reproduction", device: str | None = None
) -> ComparisonTable:
    """Run ``chapters``; write ``claims.csv``, ``claims.md`` and ``environment.json`` into ``out``."""
    out = Path(out)
    if device is not None:
        torch.set_default_device(device)
    environment = describe_environment()  # before the chapters: some pin threads for their runs
    started = time.perf_counter()
    rows, timings = [], {}
    for chapter in progress(list(chapters), total=len(chapters), desc="chapters"):
        t0 = time.perf_counter()
        for m in run_chapter(chapter, quick=quick):
            rows.append(Row(CLAIMS[m.key], m, verdict(CLAIMS[m.key], m)))
        timings[chapter] = time.perf_counter() - t0
    order = {k: i for i, k in enumerate(CLAIMS)}
    table = ComparisonTable(sorted(rows, key=lambda r: order[r.claim.key]))
    environment |= {
        "seed": str(SEED),
        "quick": str(quick),
        "date": datetime.date.today().isoformat(),
        "total_seconds": f"{time.perf_counter() - started:.1f}",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "claims.csv").write_text(to_csv(table))
    (out / "claims.md").write_text(to_markdown(table, environment, timings))
    seconds = {chapter: round(t, 1) for chapter, t in timings.items()}
    (out / "environment.json").write_text(json.dumps(environment | {"chapter_seconds": seconds}, indent=1) + "\n")
    return table


def to_csv(table: ComparisonTable) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row, record in zip(table.rows, table.records()):
        m = row.measurement
        record |= {
            "measured": "" if m.value is None else repr(m.value if isinstance(m.value, bool) else float(m.value)),
            "low": "" if m.low is None else repr(float(m.low)),
            "high": "" if m.high is None else repr(float(m.high)),
        }
        writer.writerow({f: record[f] for f in FIELDS})
    return buffer.getvalue()


def read_csv(path: Path | str) -> list[Measurement]:
    """Measurements back from a ``claims.csv`` (verdicts are recomputed, never read)."""
    measurements = []
    with open(path, newline="") as handle:
        for rec in csv.DictReader(handle):
            value = rec["measured"]
            parsed = None if value == "" else (value == "True") if value in ("True", "False") else float(value)
            low = float(rec["low"]) if rec["low"] else None
            high = float(rec["high"]) if rec["high"] else None
            measurements.append(
                Measurement(
                    rec["key"],
                    parsed,
                    low,
                    high,
                    as_stated=rec["verdict"] != "not reproducible as stated",
                    reason=rec["why"],
                )
            )
    return measurements


def to_markdown(table: ComparisonTable, environment: dict[str, str], timings: dict[str, float]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# Audit of the reports' claims",
        "",
        "Generated by `python -m spark_edu reproduce`; every measured value is computed by this repository.",
        "",
        "| " + " | ".join(f"{k}" for k in environment) + " |",
        "|" + "---|" * len(environment),
        "| " + " | ".join(cell(v) for v in environment.values()) + " |",
        "",
    ]
    counts = table.counts()
    lines += ["Verdicts: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS), ""]
    lines += ["Seconds per chapter: " + ", ".join(f"{c} {t:.1f}" for c, t in timings.items()), ""]
    cols = ("report", "section", "quantity", "claimed", "measured", "unit", "verdict", "why", "chapter")
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in table.records():
        lines.append("| " + " | ".join(cell(rec[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"
