"""The attention benchmark's rows on disk and on the page: CSV in and out, one Markdown table.

:func:`markdown` gives one line per (length, pattern): each path's ratio to dense SDPA with
its interquartile range, the fastest own kernel's fraction of its work bound, and that
kernel's *paired* ratio to compiled FlexAttention, the median over rounds of
``t_flex / t_own`` timed back to back (> 1: the project's kernel is faster).
"""

from __future__ import annotations

import csv
from dataclasses import asdict

from spark_edu.chapters.sparse_attention.bench import ALL_PATHS, Row, best_project_rows


def write_csv(rows: list[Row], path: str) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in asdict(row).items()})


def read_csv(path: str) -> list[Row]:
    """Rows saved by :func:`write_csv` (e.g. the chapter's ``book/data/sparse_attention/``)."""
    ints, strs = {"length", "threads", "rounds"}, {"pattern", "path", "cpu_capability"}
    with open(path, newline="") as handle:
        return [
            Row(
                **{
                    k: (None if v == "" else int(v) if k in ints else v if k in strs else float(v))
                    for k, v in record.items()
                }
            )
            for record in csv.DictReader(handle)
        ]


def _ratio_cell(row: Row) -> str:
    """``1.85x`` with its interquartile range where the row has one: ``1.85x (1.80–1.90)``."""
    if row.ratio_q1 is None:
        return f"{row.ratio:.2f}x"
    return f"{row.ratio:.2f}x ({row.ratio_q1:.2f}–{row.ratio_q3:.2f})"


def markdown(rows: list[Row]) -> str:
    """One line per (length, pattern): ratio to dense SDPA per path, bound, best fraction, memory."""
    paths = [p for p in ALL_PATHS if any(r.path == p for r in rows) and p != "sdpa"]
    head = (
        ["L", "pattern", "elem. sparsity", "block sparsity", "bound", "SDPA ms"]
        + paths
        + ["best own / bound", "best own / flex (paired)", "SDPA MB", "best own MB"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    best = {(r.length, r.pattern): r for r in best_project_rows(rows)}
    for key in dict.fromkeys((r.length, r.pattern) for r in rows):
        group = {r.path: r for r in rows if (r.length, r.pattern) == key}
        any_row = next(iter(group.values()))
        sdpa_mb = group["sdpa"].peak_mb if "sdpa" in group else None
        cells = [
            str(key[0]),
            key[1],
            f"{any_row.element_sparsity:.2f}",
            f"{any_row.block_sparsity:.2f}",
            f"{any_row.bound:.2f}",
            f"{any_row.sdpa_ms:.1f}",
        ]
        cells += [_ratio_cell(group[p]) if p in group else "—" for p in paths]
        b = best.get(key)
        vs_flex = "—" if b is None or b.flex_ratio is None else f"{b.flex_ratio:.2f}x ({b.flex_q1:.2f}–{b.flex_q3:.2f})"
        mb = lambda x: "—" if x is None else f"{x:.1f}"  # noqa: E731
        cells += [
            "—" if b is None else f"{b.path} {b.fraction_of_bound:.0%}",
            vs_flex,
            mb(sdpa_mb),
            "—" if b is None else mb(b.peak_mb),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
