"""The audit chapter's figure: verdicts per report section, recomputed from a saved ``claims.csv``."""

from __future__ import annotations

from pathlib import Path

from spark_edu.chapters.audit.files import read_csv
from spark_edu.claims import compare
from spark_edu.plots import plot_verdict_counts, subplots


def summary_figure(csv_path: Path | str):
    """Verdicts per report section, recomputed from a saved ``claims.csv`` (README and audit chapter)."""
    fig, axes = subplots(1, 1, width=7.4, height=4.2)
    plot_verdict_counts(axes[0, 0], compare(read_csv(csv_path)))
    axes[0, 0].set_title("verdicts per report section")
    return fig
