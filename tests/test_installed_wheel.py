"""The package as a user installs it: a wheel, outside the repository, run from an empty folder.

The wheel must carry every chapter's saved results and load them through the public loaders,
and the audit chapter's notebook must execute there (what the Colab badge relies on)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LOAD_EVERY_SAVED_RESULT = """
import spark_edu, sys
assert spark_edu.__file__.startswith(sys.argv[1]), spark_edu.__file__
from spark_edu.chapters.audit.reproduce import read_csv
from spark_edu.chapters.fk_attention.sweep import load_records
from spark_edu.chapters.moe.bench import saved_result
from spark_edu.chapters.spark_model.runs import load_results as spark_results
from spark_edu.chapters.sparse_attention.experiments import load_saved_benchmark
from spark_edu.chapters.verifier.experiments import load_results as verifier_results
from spark_edu.results import data_dir
counts = {
    "audit": len(read_csv(data_dir("audit") / "claims.csv")),
    "fk_attention": len(load_records()),
    "moe": len(saved_result()["median_ms"]),
    "spark_model": len(spark_results()["records"]),
    "sparse_attention": len(load_saved_benchmark()),
    "verifier": len(verifier_results()["runs"]),
}
print(counts)
assert all(counts.values()), counts
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel and install it (no dependencies) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp / "dist").glob("spark_edu-*.whl"))
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(tmp / "site"), str(wheel)], check=True, capture_output=True
    )
    empty = tmp / "elsewhere"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp / "site"), "SPARK_EDU_QUIET": "1"}
    return tmp / "site", empty, env


def test_the_wheel_loads_every_chapters_saved_results(installed):
    site, empty, env = installed
    done = subprocess.run(
        [sys.executable, "-c", LOAD_EVERY_SAVED_RESULT, str(site)], cwd=empty, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_audit_chapter_runs_from_the_installed_wheel(installed):
    site, empty, env = installed
    notebook = empty / "audit.ipynb"
    notebook.write_text((ROOT / "book" / "audit.ipynb").read_text())
    jupyter = Path(sys.executable).with_name("jupyter")
    done = subprocess.run(
        [str(jupyter), "execute", "--inplace", str(notebook)],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cells = json.loads(notebook.read_text())["cells"]
    assert not [o for c in cells if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
