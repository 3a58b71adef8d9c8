"""The reports' statements in the registry: quoted exactly, each with a criterion, judged by
the yes/no rule, and each criterion flipped by a constructed case in a chapter's test file."""

import re
from pathlib import Path

import pytest

from spark_edu.claims import CLAIMS, DIFFERS, NOT_AS_STATED, REPRODUCED, Claim, Measurement, compare, verdict
from spark_edu.claims.statements import STATEMENT_LIST

REPORTS = Path(__file__).resolve().parents[2] / "shared" / "reports"
FILES = {"modular": "modular-sparse-transformers-report.md", "spark": "spark-benchmark-results.md"}
TESTS = Path(__file__).resolve().parent


def _plain(text: str) -> str:
    """Report text without markdown emphasis, whitespace collapsed."""
    return re.sub(r"\s+", " ", text.replace("**", ""))


@pytest.mark.skipif(not REPORTS.exists(), reason="the reports live in the project's shared folder")
@pytest.mark.parametrize("statement", STATEMENT_LIST, ids=lambda s: s.key)
def test_each_statement_is_quoted_exactly(statement):
    report = _plain((REPORTS / FILES[statement.report]).read_text())
    assert statement.quantity in report, f"{statement.key}: not a verbatim quote of the {statement.report} report"


def test_statements_are_registered_claims_with_a_criterion():
    assert len(STATEMENT_LIST) >= 12
    for s in STATEMENT_LIST:
        assert CLAIMS[s.key] is s and s.is_statement and s.claimed is True
        assert len(s.criterion) > 40, f"{s.key}: the criterion must say what is measured and its threshold"
    assert not any(c.is_statement for c in CLAIMS.values() if c not in STATEMENT_LIST)


def test_a_statement_needs_claimed_true():
    with pytest.raises(ValueError, match="claimed=True"):
        Claim("k", "spark", "s", "q", 1.0, "statement", "spark_model", criterion="some criterion")


@pytest.mark.parametrize(
    "measurement, expected",
    [
        (dict(value=True), REPRODUCED),
        (dict(value=False), DIFFERS),
        (dict(value=None, as_stated=False, reason="interpretability is not measured"), NOT_AS_STATED),
    ],
)
def test_statement_verdicts_follow_the_criterion(measurement, expected):
    key = STATEMENT_LIST[0].key
    assert verdict(CLAIMS[key], Measurement(key, **measurement)) == expected


def test_a_statement_row_shows_its_criterion_and_measurement():
    key = "spark.stats.stable_training"
    row = compare([Measurement(key, False, reason="one run had a NaN loss")]).rows[0]
    assert row.measured_text == "does not hold" and row.claimed_text == "holds"
    assert row.why.startswith("criterion: in every configuration") and "measured: one run had a NaN loss" in row.why
    table = compare([Measurement(key, True, reason="r"), Measurement("modular.moe.top_k", 2.0, by_construction=True)])
    assert [len(table.numbers().rows), len(table.statements().rows)] == [1, 1]
    assert table._repr_mimebundle_()["text/plain"] == table.summary()
    assert "criterion:" in table._repr_mimebundle_()["text/html"]


def test_every_criterion_has_a_constructed_case_that_flips_it():
    # each chapter's tests/test_statements_<chapter>.py names the keys whose verdict it flips
    text = "".join(p.read_text() for p in TESTS.glob("test_statements_*.py"))
    missing = [s.key for s in STATEMENT_LIST if f'"{s.key}"' not in text]
    assert not missing, f"no constructed case flips the verdict of {missing}"
