"""The audit command: output files' schema, verdicts recomputed from the CSV, and a chapter
that fails to answer all of its claims is caught. Real chapters are exercised by their own
tests and by ``test_reproduce_quick_on_a_real_chapter``."""

import csv
import json
import sys
import types

import pytest

from spark_edu.chapters.audit import reproduce as rep
from spark_edu.__main__ import main
from spark_edu.claims import CLAIMS, Measurement, claims_for, verdict


def _fake_chapter(monkeypatch, chapter, answer):
    module = types.ModuleType(f"spark_edu.chapters.{chapter}.experiments")
    module.reproduce = answer
    monkeypatch.setitem(sys.modules, module.__name__, module)


def _answers(quick=False):
    keys = [c.key for c in claims_for("moe")]
    return [
        Measurement(keys[0], 8.0),
        Measurement(keys[1], 2.0, 1.5, 2.5),
        Measurement(keys[2], 0.5, 0.4, 0.6),
        Measurement(keys[3], None, as_stated=False, reason="undefined"),
    ]


def test_reproduce_writes_consistent_csv_and_markdown(tmp_path, monkeypatch):
    _fake_chapter(monkeypatch, "moe", _answers)
    assert main(["reproduce", "--chapter", "moe", "--quick", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "claims.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert tuple(records[0]) == rep.FIELDS
    assert [r["key"] for r in records] == [c.key for c in claims_for("moe")]
    assert [r["verdict"] for r in records] == ["reproduced", "reproduced", "differs", "not reproducible as stated"]
    # the CSV round-trips: verdicts recomputed from it agree with the written ones
    for m, r in zip(rep.read_csv(tmp_path / "claims.csv"), records):
        assert verdict(CLAIMS[m.key], m) == r["verdict"]
    md = (tmp_path / "claims.md").read_text()
    assert "cpu_capability" in md and "2 reproduced, 1 differs, 1 not reproducible as stated" in md
    assert md.count("\n| modular |") == 4


def test_chapter_must_answer_every_claim(monkeypatch):
    _fake_chapter(monkeypatch, "moe", lambda quick=False: _answers()[:2])
    with pytest.raises(RuntimeError, match="missing"):
        rep.run_chapter("moe")
    with pytest.raises(ValueError, match="chapter must be one of"):
        rep.run_chapter("nonexistent")


def test_reproduce_quick_on_a_real_chapter(tmp_path):
    """The real MoE chapter, quick settings (about 15 s on 2 cores): every claim answered."""
    assert main(["reproduce", "--chapter", "moe", "--quick", "--out", str(tmp_path)]) == 0
    measurements = rep.read_csv(tmp_path / "claims.csv")
    assert [m.key for m in measurements] == [c.key for c in claims_for("moe")]
    assert all(m.value is not None for m in measurements)
    environment = json.loads((tmp_path / "environment.json").read_text())
    assert environment["quick"] == "True" and set(environment["chapter_seconds"]) == {"moe"}
