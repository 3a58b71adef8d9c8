"""Re-measure every claim of both reports and write the audit: ``claims.csv`` and ``claims.md``.

Each chapter's module ``spark_edu.chapters.<chapter>.experiments`` exposes
``reproduce(quick: bool = False) -> list[Measurement]``, the same functions its notebook
calls. This module runs them, judges each measurement with :func:`spark_edu.claims.judge`,
and records the environment it ran in. Command line: ``python -m spark_edu reproduce``.

The output folder is checked before any work. Each chapter's measurements are written to
``chapters/<chapter>.json`` as soon as it finishes, and ``claims.csv``, ``claims.md`` and
``environment.json`` are rewritten from every finished chapter, so an interrupted run keeps
what it finished (``environment.json`` says ``"complete": false``). ``resume=True`` skips
chapters already written with the same settings.
"""

from __future__ import annotations

import datetime
import importlib
import json
import time
from pathlib import Path

import torch

from spark_edu.chapters import CHAPTERS
from spark_edu.chapters.audit.files import read_chapter, read_csv, to_csv, to_markdown, write_chapter
from spark_edu.chapters.audit.files import measurement_from_record
from spark_edu.claims import CLAIMS, ComparisonTable, Measurement, compare
from spark_edu.device import describe_environment, seed_everything
from spark_edu.results import write_atomic
from spark_edu.train import progress

SEED = 0
__all__ = ["CHAPTERS", "SEED", "prepare_out", "read_csv", "reproduce", "run_chapter"]


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


def prepare_out(out: Path | str) -> Path:
    """Create ``out`` (and ``out/chapters``) and prove it writable, before any work is done."""
    out = Path(out)
    try:
        (out / "chapters").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    return out


def reproduce(
    chapters=CHAPTERS,
    quick: bool = False,
    out: Path | str = "reproduction",
    device: str | None = None,
    resume: bool = False,
) -> ComparisonTable:
    """Run ``chapters``; write ``claims.csv``, ``claims.md`` and ``environment.json`` into ``out``."""
    unknown = sorted(set(chapters) - set(CHAPTERS))
    if unknown:
        raise ValueError(f"chapter must be one of {list(CHAPTERS)}, got {unknown}")
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: CUDA is not available on this machine")
    out = prepare_out(out)
    if device is not None:
        torch.set_default_device(device)
    settings = {"quick": quick, "seed": SEED, "device": device or "default"}
    environment = describe_environment()  # before the chapters: some pin threads for their runs
    environment |= {"seed": str(SEED), "quick": str(quick), "date": datetime.date.today().isoformat()}
    started = time.perf_counter()
    for chapter in progress(list(chapters), total=len(chapters), desc="chapters"):
        path = out / "chapters" / f"{chapter}.json"
        saved = read_chapter(path)
        if resume and saved is not None and saved["settings"] == settings:
            continue
        t0 = time.perf_counter()
        measurements = run_chapter(chapter, quick=quick)
        write_chapter(path, chapter, settings, time.perf_counter() - t0, measurements)
        _write_summary(out, chapters, settings, environment, time.perf_counter() - started)
    return _write_summary(out, chapters, settings, environment, time.perf_counter() - started)


def _write_summary(out: Path, chapters, settings: dict, environment: dict, seconds: float) -> ComparisonTable:
    """Assemble ``claims.csv``/``.md`` and ``environment.json`` from the finished chapters asked for.

    A chapter finished earlier with other settings is kept, and ``environment.json`` names each
    chapter's settings; the run is ``complete`` only when every chapter finished with these.
    """
    finished = {c: read_chapter(out / "chapters" / f"{c}.json") for c in chapters}
    finished = {c: record for c, record in finished.items() if record is not None}
    measurements = [measurement_from_record(r) for record in finished.values() for r in record["measurements"]]
    order = {k: i for i, k in enumerate(CLAIMS)}
    table = compare(sorted(measurements, key=lambda m: order[m.key]))
    timings = {c: record["seconds"] for c, record in finished.items()}
    complete = len(finished) == len(chapters) and all(r["settings"] == settings for r in finished.values())
    # the chapters' own times: with --resume this run's clock would leave out the chapters it kept
    info = environment | {"total_seconds": f"{sum(timings.values()):.1f}", "this_run_seconds": f"{seconds:.1f}"}
    write_atomic(out / "claims.csv", to_csv(table))
    write_atomic(out / "claims.md", to_markdown(table, info, timings))
    record = info | {
        "complete": complete,
        "chapters": list(chapters),
        "chapter_seconds": timings,
        "chapter_settings": {c: r["settings"] for c, r in finished.items()},
    }
    write_atomic(out / "environment.json", json.dumps(record, indent=1) + "\n")
    return table
