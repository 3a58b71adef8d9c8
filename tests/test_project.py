"""The project's own promises: dependency lists agree with each other and with the lock,
notebooks are committed executed and listed in the table of contents, and the README's
commands are what CI runs."""

import importlib.metadata
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
LOCK = ROOT / "requirements-lock.txt"
CONDA_NAMES = {"pytorch-cpu": "torch"}  # conda-forge name -> PyPI name
#: environment.yml entries that may be a range, because conda-forge may not have the locked
#: release yet; each says so in a comment there ("conda-forge may lag").
CONDA_MAY_LAG = {"torch", "playwright"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name, version = line.split("==")
            pins[_name(name)] = version.strip()
    return pins


def _pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in ("book", "test"):
        names |= {_name(r) for r in project["optional-dependencies"][extra]}
    return names


def _conda_entries() -> list[tuple[str, str, str]]:
    """(PyPI name, specifier, comment) for every conda (and pip-section) dependency but python."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = [d for d in env["dependencies"] if isinstance(d, str)]
    listed += [d for group in env["dependencies"] if isinstance(group, dict) for d in group.get("pip", [])]
    comments = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        entry, _, comment = line.strip().removeprefix("- ").partition("#")
        comments[entry.strip()] = comment.strip()
    out = []
    for d in listed:
        name = _name(d)
        if name != "python":
            out.append((CONDA_NAMES.get(name, name), d.strip()[len(name) :], comments.get(d.strip(), "")))
    return out


def test_environment_yml_matches_pyproject():
    assert {name for name, _, _ in _conda_entries()} == _pyproject_names() | {"pip"}


def test_environment_yml_pins_the_locked_versions():
    lock = _lock()
    lagging = set()
    for name, spec, comment in _conda_entries():
        if spec.startswith("==") and "," not in spec:
            assert spec[2:] == lock[name], f"environment.yml pins {name}{spec}, the lock {lock[name]}"
            continue
        lagging.add(name)
        assert "conda-forge may lag" in comment, f"{name}{spec}: a range needs the comment 'conda-forge may lag'"
        assert Version(lock[name]) in SpecifierSet(spec), f"{name}{spec} excludes the locked {lock[name]}"
    assert lagging == CONDA_MAY_LAG


def test_the_lock_pins_every_dependency_exactly():
    lock = _lock()
    assert _pyproject_names() | {"pip", "setuptools"} <= set(lock), "run `make lock` after changing pyproject.toml"
    assert lock["torch"] == "2.13.0", "torch stays at 2.13.0, with no build label (+cpu matches it)"
    assert not [name for name in lock if name.startswith("nvidia-")], "the lock must hold the CPU build of torch"
    assert "torch==2.13.0" in (ROOT / "requirements-lock.in").read_text()


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(), reason="not make's .venv")
def test_make_installed_exactly_the_lock():
    """Inside the .venv that `make` built: every installed package is in the lock, at its version."""
    lock = _lock()
    wrong, extra = [], []
    for dist in importlib.metadata.distributions():
        name = _name(dist.metadata["Name"])
        if name == "spark-edu":
            continue
        if name not in lock:
            extra.append(name)
        elif Version(dist.version).public != Version(lock[name]).public:
            wrong.append(f"{name} {dist.version} (lock {lock[name]})")
    assert not wrong and not extra, f"installed but not as locked: {wrong}; not in the lock: {extra}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert all(isinstance(n, int) for n in counts), f"{path.name}: a code cell has not run"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), f"{path.name}: cells ran out of order"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name}: holds an error output"
    assert path.stat().st_size < 600_000, f"{path.name}: {path.stat().st_size} bytes of stored output"


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"file:\s*(\S+)", toc))
    for path in NOTEBOOKS:
        assert f"book/{path.stem}" in listed, f"{path.name} is missing from _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), entry


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call the README's test command"
    assert "torch==2.13.0" in (ROOT / "requirements-lock.in").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK   ?= requirements-lock.txt" in makefile and "-c $(LOCK)" in makefile


def test_ci_runs_make_test_on_every_push_and_pull_request_with_the_lock():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    text = (ROOT / ".github" / "workflows" / "test.yml").read_text()
    assert re.search(r"run: make test\b", text) and "hashFiles('requirements-lock.txt')" in text
    assert "apt" in text or "bookworm" in text, "chromium comes from Debian's apt (make test installs it as root)"


def test_pages_workflow_never_cancels_a_deployment_and_uses_the_lock():
    text = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    workflow = yaml.safe_load(text)
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert "run: make book" in text and "cache-dependency-path: requirements-lock.txt" in text
    assert "Settings → Pages → Source: GitHub Actions" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_source_is_current(path):
    """A chapter's ``show_source(...)`` output matches the package (else nbval fails much later)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("refresh_shown_source", ROOT / "tools" / "refresh_shown_source.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    stale = tool.refresh(str(path), write=False)
    assert stale == 0, f"{path.name}: run `.venv/bin/python tools/refresh_shown_source.py book/{path.name}`"
