"""Claimed vs measured vs verdict, as a table that prints as text and renders as HTML."""

from __future__ import annotations

from dataclasses import dataclass

from spark_edu.claims.registry import CLAIMS
from spark_edu.claims.verdicts import VERDICTS, Claim, Measurement, judge


@dataclass(frozen=True)
class Row:
    claim: Claim
    measurement: Measurement
    verdict: str
    rule: str = ""

    @property
    def why(self) -> str:
        """For a statement its criterion first; then the chapter's reason and the verdict rule."""
        criterion = f"criterion: {self.claim.criterion}" if self.claim.is_statement else ""
        measured = f"measured: {self.measurement.reason}" if criterion and self.measurement.reason else ""
        return "; ".join(part for part in (criterion, measured or self.measurement.reason, self.rule) if part)

    @property
    def claimed_text(self) -> str:
        return "holds" if self.claim.is_statement else self.claim.claimed_text

    @property
    def measured_text(self) -> str:
        if self.claim.is_statement and self.measurement.value is not None:
            return "holds" if self.measurement.value else "does not hold"
        return self.measurement.measured_text


class ComparisonTable:
    """Claimed vs reproduced vs verdict; prints as fixed-width text and renders as HTML."""

    columns = ("quantity", "claimed", "measured", "unit", "verdict", "why")

    def __init__(self, rows: list[Row]):
        self.rows = rows

    def records(self) -> list[dict[str, str]]:
        return [
            {
                "key": r.claim.key,
                "report": r.claim.report,
                "section": r.claim.section,
                "quantity": r.claim.quantity,
                "claimed": r.claimed_text,
                "measured": r.measured_text,
                "unit": r.claim.unit,
                "verdict": r.verdict,
                "why": r.why,
                "rule": r.rule,
                "chapter": r.claim.chapter,
            }
            for r in self.rows
        ]

    def numbers(self) -> ComparisonTable:
        """The rows that are numbers (or ranges) the reports claim."""
        return ComparisonTable([r for r in self.rows if not r.claim.is_statement])

    def statements(self) -> ComparisonTable:
        """The rows that are findings in words, each with its criterion."""
        return ComparisonTable([r for r in self.rows if r.claim.is_statement])

    def counts(self) -> dict[str, int]:
        return {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}

    def counts_by_report(self) -> dict[str, dict[str, int]]:
        """``{report: {verdict: count}}`` for the reports present, every verdict class listed."""
        reports = dict.fromkeys(r.claim.report for r in self.rows)
        return {
            rep: {v: sum(r.verdict == v and r.claim.report == rep for r in self.rows) for v in VERDICTS}
            for rep in reports
        }

    def __repr__(self) -> str:
        records = self.records()
        widths = {c: max([len(c)] + [len(rec[c]) for rec in records]) for c in self.columns[:-1]}
        line = lambda rec: "  ".join(rec[c].ljust(widths[c]) for c in self.columns[:-1])  # noqa: E731
        header = line({c: c for c in self.columns})
        body = [line(rec) + ("" if not rec["why"] else f"  ({rec['why']})") for rec in records]
        return "\n".join([header, "-" * len(header), *body])

    def summary(self) -> str:
        """One line: how many rows, and how many of each verdict."""
        counts = ", ".join(f"{n} {v}" for v, n in self.counts().items() if n)
        return f"claims table: {len(self.rows)} rows ({counts or 'none'})"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        """In a notebook: the HTML table, and one summary line as its plain text (the full text
        is ``print(table)``), so a page does not store the table twice."""
        return {"text/html": self._repr_html_(), "text/plain": self.summary()}

    def _repr_html_(self) -> str:
        from html import escape

        shown = self.columns[:-1]  # "why" goes on a row of its own, the table's full width
        head = "".join(f"<th>{c}</th>" for c in shown)
        rows = []
        for rec in self.records():
            cls = rec["verdict"].replace(" ", "-")
            cells = "".join(f"<td>{escape(rec[c])}</td>" for c in shown)
            rows.append(f'<tr class="verdict-{cls}">{cells}</tr>')
            rows.append(f'<tr class="why-row"><td colspan="{len(shown)}">{escape(rec["why"])}</td></tr>')
        return f'<table class="claims-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def compare(measurements: list[Measurement]) -> ComparisonTable:
    """Pair measurements with their claims and judge each one."""
    rows = []
    for m in measurements:
        claim = CLAIMS[m.key]
        rows.append(Row(claim, m, *judge(claim, m)))
    return ComparisonTable(rows)
