"""The audit command: output files' schema, verdicts recomputed from the CSV, a chapter that
fails to answer all of its claims is caught, bad output folders fail before any work, and an
interrupted run keeps what it finished. Real chapters run in ``test_layout.py`` (quick)."""

import csv
import json
import os
import sys
import types

import pytest

import spark_edu.chapters.moe.routers  # noqa: F401  the CLI's parser imports it; load it before any fake
from spark_edu.__main__ import main
from spark_edu.chapters.audit import files
from spark_edu.chapters.audit import reproduce as rep
from spark_edu.claims import CLAIMS, Measurement, claims_for, verdict


def _fake_chapter(monkeypatch, chapter, answer):
    module = types.ModuleType(f"spark_edu.chapters.{chapter}.experiments")
    module.reproduce = answer
    monkeypatch.setitem(sys.modules, module.__name__, module)


def _answers(quick=False):
    keys = [c.key for c in claims_for("moe")]
    return [
        Measurement(keys[0], 8.0, by_construction=True),
        Measurement(keys[1], 2.0, 1.5, 2.5),
        Measurement(keys[2], 0.5, 0.4, 0.6),
        Measurement(keys[3], None, as_stated=False, reason="undefined"),
        Measurement(keys[4], True, reason="criterion met"),  # the chapter's statements in words
        Measurement(keys[5], False, reason="criterion not met"),
    ]


def test_reproduce_writes_consistent_csv_and_markdown(tmp_path, monkeypatch):
    _fake_chapter(monkeypatch, "moe", _answers)
    assert main(["reproduce", "--chapter", "moe", "--quick", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "claims.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert tuple(records[0]) == files.FIELDS
    assert [r["key"] for r in records] == [c.key for c in claims_for("moe")]
    verdicts = ["matches by construction", "reproduced", "differs", "not reproducible as stated"]
    verdicts += ["reproduced", "differs"]
    assert [r["verdict"] for r in records] == verdicts
    assert all(r["rule"].startswith("rule: ") for r in records)
    # the CSV round-trips: verdicts recomputed from it agree with the written ones
    for m, r in zip(files.read_csv(tmp_path / "claims.csv"), records):
        assert verdict(CLAIMS[m.key], m) == r["verdict"]
    md = (tmp_path / "claims.md").read_text()
    assert "cpu_capability" in md and "Numbers: 4 — 1 reproduced, 1 matches by construction, 1 differs" in md
    assert "Statements: 2 — 1 reproduced, 0 matches by construction, 1 differs" in md
    assert "- modular: 1 reproduced" in md and md.count("\n| modular |") == 6
    assert md.index("## Numbers") < md.index("criterion: over the chapter's seeds") and "## Statements" in md
    environment = json.loads((tmp_path / "environment.json").read_text())
    assert environment["complete"] is True and set(environment["chapter_seconds"]) == {"moe"}


def test_chapter_must_answer_every_claim(monkeypatch):
    _fake_chapter(monkeypatch, "moe", lambda quick=False: _answers()[:2])
    with pytest.raises(RuntimeError, match="missing"):
        rep.run_chapter("moe")
    with pytest.raises(ValueError, match="chapter must be one of"):
        rep.run_chapter("nonexistent")


def test_an_interrupted_run_keeps_finished_chapters_and_resume_skips_them(tmp_path, monkeypatch):
    calls = []

    def moe(quick=False):
        calls.append("moe")
        return _answers()

    def broken(quick=False):
        raise KeyboardInterrupt  # the user stops the run during the second chapter

    _fake_chapter(monkeypatch, "moe", moe)
    _fake_chapter(monkeypatch, "truthfulness", broken)
    with pytest.raises(KeyboardInterrupt):
        rep.reproduce(["moe", "truthfulness"], quick=True, out=tmp_path)
    environment = json.loads((tmp_path / "environment.json").read_text())
    assert environment["complete"] is False and list(environment["chapter_seconds"]) == ["moe"]
    assert len(files.read_csv(tmp_path / "claims.csv")) == len(claims_for("moe"))
    truth = [
        Measurement(c.key, 0.5, by_construction=True)
        if "samples" in c.key
        else Measurement(c.key, None, as_stated=False, reason="x")
        for c in claims_for("truthfulness")
    ]
    _fake_chapter(monkeypatch, "truthfulness", lambda quick=False: truth)
    table = rep.reproduce(["moe", "truthfulness"], quick=True, out=tmp_path, resume=True)
    assert calls == ["moe"]  # moe was not run again
    assert len(table.rows) == len(claims_for("moe")) + len(claims_for("truthfulness"))
    environment = json.loads((tmp_path / "environment.json").read_text())
    assert environment["complete"] is True  # the total is every chapter's time, the kept one's included
    assert float(environment["total_seconds"]) == pytest.approx(sum(environment["chapter_seconds"].values()), abs=0.2)
    rep.reproduce(["moe"], quick=False, out=tmp_path, resume=True)  # other settings: run again
    assert calls == ["moe", "moe"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_fails_at_once(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValueError, match="cannot write"):
        rep.prepare_out(locked / "audit")


def test_bad_out_and_missing_cuda_fail_in_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    calls = []
    _fake_chapter(monkeypatch, "moe", lambda quick=False: calls.append(1) or _answers())
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--chapter", "moe", "--out", str(blocker / "audit")])
    assert exit_info.value.code == 2 and calls == []
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith("python -m spark_edu reproduce: error: argument --out")
    )
    if not __import__("torch").cuda.is_available():
        with pytest.raises(SystemExit) as exit_info:
            main(["reproduce", "--chapter", "moe", "--device", "cuda", "--out", str(tmp_path / "x")])
        assert exit_info.value.code == 2 and calls == []
        assert "CUDA is not available" in capsys.readouterr().err
