"""The pointer-chasing sweep's records: summary over seeds, a book table, and the CSV
(``spark_edu/data/fk_attention/sweep.csv``, written by ``python -m spark_edu run fk_attention``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from spark_edu import results
from spark_edu.display import Table
from spark_edu.measure import mean_interval

FIELDS = ("kind", "layers", "hops", "seed", "accuracy", "final_loss", "parameters", "steps")


def summarize(records: list[dict]) -> list[dict]:
    """Mean accuracy and 95% t-interval over seeds (clipped to [0, 1]) for each (hops, layers, kind)."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        groups.setdefault((int(r["hops"]), int(r["layers"]), r["kind"]), []).append(float(r["accuracy"]))
    rows = []
    for (k, n_layers, kind), accs in sorted(groups.items()):
        mean, low, high = mean_interval(accs, 0.0, 1.0)
        rows.append(
            {"hops": k, "layers": n_layers, "kind": kind, "seeds": len(accs), "mean": mean, "low": low, "high": high}
        )
    return rows


def format_summary(rows: list[dict], chance: float | None = None) -> Table:
    """:func:`summarize` rows as a book table (stable text for strict notebook tests)."""
    table_rows = [[r["hops"], r["layers"], r["kind"], r["seeds"], (r["mean"], r["low"], r["high"])] for r in rows]
    notes = "" if chance is None else f"chance: {chance:.3f}"
    columns = ["hops", "layers", "attention", "seeds", "accuracy [95% CI]"]
    return Table(table_rows, columns, {"accuracy [95% CI]": ".3f"}, notes=notes)


def _csv_row(r: dict) -> dict:
    return {**{f: r[f] for f in FIELDS}, "accuracy": f"{r['accuracy']:.4f}", "final_loss": f"{r['final_loss']:.4f}"}


def save_records(records: list[dict], path: Path | str) -> Path:
    """Write ``records`` (as returned by ``pointer_run``) to the CSV at ``path``, header first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(_csv_row(r) for r in records)
    return path


def load_records(path: Path | str | None = None) -> list[dict]:
    """The sweep's records: the shipped ``sweep.csv`` by default, or the CSV at ``path``."""
    path = results.saved_file("fk_attention", "sweep.csv") if path is None else Path(path)
    with open(path, newline="") as f:
        return [
            {**r, "accuracy": float(r["accuracy"]), "hops": int(r["hops"]), "layers": int(r["layers"])}
            for r in csv.DictReader(f)
        ]
