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
        """The chapter's reason, then the verdict rule that applied."""
        return "; ".join(part for part in (self.measurement.reason, self.rule) if part)


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
                "claimed": r.claim.claimed_text,
                "measured": r.measurement.measured_text,
                "unit": r.claim.unit,
                "verdict": r.verdict,
                "why": r.why,
                "rule": r.rule,
                "chapter": r.claim.chapter,
            }
            for r in self.rows
        ]

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
