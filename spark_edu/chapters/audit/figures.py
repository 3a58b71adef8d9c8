"""The audit chapter's figure: verdicts of the numbers per report section and of the statements
per chapter, recomputed from a saved ``claims.csv``."""

from __future__ import annotations

from pathlib import Path

from spark_edu.chapters.audit.files import read_csv
from spark_edu.claims import compare
from spark_edu.plots import plot_verdict_counts, subplots


def summary_figure(csv_path: Path | str):
    """Verdicts recomputed from a saved ``claims.csv`` (README and audit chapter): the reports'
    numbers per report section (top) and their statements in words per chapter (bottom)."""
    table = compare(read_csv(csv_path))
    numbers, statements = table.numbers(), table.statements()
    if not statements.rows:
        fig, axes = subplots(1, 1, width=7.4, height=4.2)
        plot_verdict_counts(axes[0, 0], numbers)
        axes[0, 0].set_title("numbers: verdicts per report section")
        return fig
    fig, axes = subplots(2, 1, width=7.4, height=3.9)
    plot_verdict_counts(axes[0, 0], numbers)
    axes[0, 0].set_title("numbers: verdicts per report section")
    plot_verdict_counts(axes[1, 0], statements, by="chapter")
    axes[1, 0].set_title("statements in words: verdicts per chapter that measures them")
    axes[1, 0].get_legend().remove()
    return fig
