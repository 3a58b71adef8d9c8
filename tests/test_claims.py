"""The claims registry: every report table is in it, and the verdict rules hold on
constructed cases."""

import re
from pathlib import Path

import pytest

from spark_edu.claims import (
    CLAIMS,
    DIFFERS,
    MATCHES,
    NOT_AS_STATED,
    REPRODUCED,
    Claim,
    Measurement,
    claims_for,
    compare,
    format_value,
    verdict,
)

REPORTS = Path(__file__).resolve().parents[2] / "shared" / "reports"


def test_registry_holds_every_table_number():
    # Spot the numbers of each report table by value, section by section.
    def values(prefix):
        return {c.claimed for k, c in CLAIMS.items() if k.startswith(prefix) and not c.is_statement}

    assert {2.5, 5.0, 3.3, 1.0} <= values("modular.attention")
    assert {0.6, 0.8, 0.7, 0.0} <= values("modular.attention")
    assert values("modular.memory") == {2.0, 3.3, 5.0, 10.0}
    assert {0.2, 0.3, 0.95} == values("modular.resources")
    assert {0.85, 0.73, 8.0, 2.0} == values("modular.moe")
    assert {0.847, 0.823, 0.891, 0.856, 0.874, 1000.0, 0.5} == values("modular.truth")
    assert {0.170, 0.126, 0.203, 0.079, -14.0, -6.5, 1.5, 2.2} == values("spark.spd")
    assert {(0.760, 1.000), (0.260, 0.640), (-0.740, -0.120)} == values("spark.verifier")
    assert {1.0, 0.0} == values("spark.fk")
    assert {46.1, 16.4, 643272.0} <= values("spark.stats")


@pytest.mark.skipif(not REPORTS.exists(), reason="the reports live in the project's shared folder")
def test_every_decimal_in_the_reports_tables_is_registered():
    registered = set()
    for c in CLAIMS.values():
        for v in c.claimed if isinstance(c.claimed, tuple) else (c.claimed,):
            if not isinstance(v, bool):
                registered.add(round(abs(float(v)), 3))
        # conditions such as noise levels are part of the quantity's name
        registered.update(round(float(x), 3) for x in re.findall(r"\d+\.\d+", c.quantity))
    text = "".join(p.read_text() for p in REPORTS.glob("*.md"))
    rows = [line for line in text.splitlines() if line.startswith("|") or line.lstrip().startswith("- **")]
    for line in rows:
        for number in re.findall(r"(?<![\w.])-?\d+\.\d+(?!\d*%)", line.replace(",", "")):
            assert round(abs(float(number)), 3) in registered, f"unregistered number {number} in: {line}"


def _claim(claimed, tolerance=0.0):
    return Claim("spark.fk.fk_accuracy", "spark", "s", "q", claimed, "u", "fk_attention", tolerance)


@pytest.mark.parametrize(
    "claimed, tol, measurement, expected",
    [
        (1.0, 0.01, dict(value=0.995), REPRODUCED),  # within tolerance
        (1.0, 0.0, dict(value=0.9, low=0.85, high=1.0), REPRODUCED),  # inside the interval
        (1.0, 0.01, dict(value=0.9, low=0.85, high=0.95), DIFFERS),  # outside both
        ((0.2, 0.6), 0.0, dict(value=0.7, low=0.55, high=0.8), DIFFERS),  # ranges only overlap: not enough
        ((0.2, 0.6), 0.0, dict(value=0.4, low=0.3, high=0.5), REPRODUCED),  # measured interval inside the range
        ((0.2, 0.6), 0.0, dict(value=0.4), REPRODUCED),  # a point inside the range
        ((0.2, 0.6), 0.0, dict(value=0.8, low=0.7, high=0.9), DIFFERS),  # ranges disjoint
        (8.0, 0.0, dict(value=8.0, by_construction=True), MATCHES),  # our code sets it
        (8.0, 0.0, dict(value=4.0, by_construction=True), DIFFERS),
        ((0.2, 0.6), 0.0, dict(value=0.4, low=0.1, high=0.9, by_construction=True), MATCHES),
        (True, 0.0, dict(value=True), REPRODUCED),
        (True, 0.0, dict(value=False), DIFFERS),
        (1.0, 0.0, dict(value=1.0, as_stated=False, reason="typed in"), NOT_AS_STATED),
        (1.0, 0.0, dict(value=None, as_stated=False, reason="undefined"), NOT_AS_STATED),
    ],
)
def test_verdict_rules(claimed, tol, measurement, expected):
    assert verdict(_claim(claimed, tol), Measurement("spark.fk.fk_accuracy", **measurement)) == expected


def test_measurement_validation():
    with pytest.raises(ValueError, match="unknown claim"):
        Measurement("no.such.claim", 1.0)
    with pytest.raises(ValueError, match="together"):
        Measurement("spark.fk.fk_accuracy", 1.0, low=0.5)
    with pytest.raises(ValueError, match="low must be"):
        Measurement("spark.fk.fk_accuracy", 1.0, low=0.9, high=0.5)
    with pytest.raises(ValueError, match="as_stated"):
        Measurement("spark.fk.fk_accuracy", None)
    with pytest.raises(ValueError, match="chapter must be one of"):
        claims_for("nonexistent")
    with pytest.raises(ValueError, match="report must be"):
        Claim("k", "other", "s", "q", 1.0, "u", "c")


def test_comparison_table_renders_stably():
    table = compare(
        [
            Measurement("spark.fk.fk_accuracy", 0.99, 0.97, 1.0),
            Measurement("modular.truth.auc", 0.91, as_stated=False, reason="typed in"),
        ]
    )
    text = repr(table)
    assert "reproduced" in text and "not reproducible as stated" in text and "(typed in; rule: " in text
    assert table.counts() == {REPRODUCED: 1, MATCHES: 0, DIFFERS: 0, NOT_AS_STATED: 1}
    assert table.counts_by_report() == {
        "spark": {REPRODUCED: 1, MATCHES: 0, DIFFERS: 0, NOT_AS_STATED: 0},
        "modular": {REPRODUCED: 0, MATCHES: 0, DIFFERS: 0, NOT_AS_STATED: 1},
    }
    page = table._repr_html_()  # "why" on its own full-width row under each claim, escaped
    assert page.count('<tr class="why-row"><td colspan="5">') == len(table.rows) and "<th>why</th>" not in page
    assert all(row.why.replace("<", "&lt;") in page for row in table.rows)
    assert format_value(643272.0) == "643,272" and format_value(46.1) == "46.1" and format_value(1e-5) == "1e-05"
    assert (
        format_value(0.8470) == "0.847" and format_value(True) == "yes" and format_value((0.26, 0.64)) == "0.26 to 0.64"
    )
