"""The package's shape: imports flow one way (book → chapters → mechanisms → core), modules stay
small and never find files through the repository layout, and the one command line documents
every option."""

import ast
import re
from pathlib import Path

import pytest
import torch

from spark_edu.__main__ import build_parser, main
from spark_edu.chapters import CHAPTERS

PACKAGE = Path(__file__).resolve().parents[1] / "spark_edu"
MODULES = sorted(PACKAGE.rglob("*.py"))
CORE = {
    "device",
    "validation",
    "measure",
    "train",
    "plots",
    "claims",
    "display",
    "widgets",
    "results",
    "pool",
    "commandline",
    "__init__",
}
#: Mechanisms and their rank: a mechanism imports core and mechanisms of a lower rank only.
MECHANISMS = {
    "tasks": 1,
    "attention": 1,
    "moe": 1,
    "spd": 1,
    "soft_stack": 1,
    "fk_convergence": 1,
    "verifier": 2,
    "fk_attention": 2,
    "transformer": 2,
    "truthfulness": 3,
    "model": 3,
}


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _layer(module: str) -> tuple[int, str]:
    """(layer, group): 0 core, 1 mechanisms (by rank), 2 chapters, 3 the command line."""
    parts = module.split(".")
    group = parts[1] if len(parts) > 1 else "__init__"
    if group == "__version__":  # an attribute of spark_edu/__init__
        group = "__init__"
    if group == "__main__":
        return 30, group
    if group == "chapters":
        return 20, group
    if group in MECHANISMS:
        return 10 + MECHANISMS[group], group
    assert group in CORE, f"{module}: not in a known layer; add it to tests/test_layout.py"
    return 0, group


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if node.module == "spark_edu"}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.split(".")[0] == "spark_edu" and name != "spark_edu"}


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_imports_flow_one_way(path):
    layer, group = _layer(_name(path))
    for imported in _imports(path):
        their_layer, their_group = _layer(imported)
        if their_group == "__init__":
            continue  # spark_edu/__init__ re-exports core only
        same_layer_may_share = layer in (0, 20)  # core modules use each other; so do chapters
        allowed = their_group == group or their_layer < layer or (same_layer_may_share and their_layer == layer)
        assert allowed, f"{_name(path)} imports {imported}, a layer above it"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_modules_are_small_and_open_with_a_docstring(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 300, f"{_name(path)}: {len(text.splitlines())} lines (split it by concept)"
    if text.strip():
        assert ast.get_docstring(ast.parse(text)), f"{_name(path)} has no module docstring"
    assert 'if __name__ == "__main__"' not in text or path.name == "__main__.py"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_nothing_finds_files_through_the_repository_layout(path):
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id != "__file__", f"{_name(path)} uses __file__: load saved results via spark_edu.results"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            assert not re.search(r"(^|[\s'\"(])book/", node.value), f"{_name(path)} refers to book/: {node.value!r}"


def _leaf_parsers(parser, words=()):
    subparsers = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    if not subparsers:
        yield words, parser
        return
    for name, sub in subparsers[0].choices.items():
        yield from _leaf_parsers(sub, (*words, name))


LEAVES = list(_leaf_parsers(build_parser()))


def test_the_command_line_lists_its_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("reproduce", "bench", "run")) and "``" not in out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("spark_edu ")
    assert {words for words, _ in LEAVES} >= {
        ("reproduce",),
        ("bench", "attention"),
        ("bench", "moe"),
        ("run", "fk_attention"),
        ("run", "verifier"),
        ("run", "spark_model"),
    }


@pytest.mark.parametrize("words, parser", LEAVES, ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_subcommand_documents_every_option(words, parser, capsys):
    for action in parser._actions:
        if action.dest != "help":
            assert action.help, f"{' '.join(words)} {action.option_strings}: no help text"
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":func:" not in out
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False) and action.dest != "help":
            assert "default:" in " ".join(action.help.split()) or "(default" in out


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_quick_reproduction_restores_the_thread_count(chapter, tmp_path):
    """Every chapter's quick reproduction runs and hands back the caller's thread count."""
    from spark_edu.chapters.audit.reproduce import run_chapter
    from spark_edu.device import threads

    with threads(2):
        measurements = run_chapter(chapter, quick=True)
        assert torch.get_num_threads() == 2
    assert measurements


def _bad_argument(parser) -> list[str]:
    """One wrong argument for this subcommand (that stops it before any work): a number option
    given a word, a choice given a non-choice, else an unknown option."""
    from spark_edu.commandline import positive_int

    for action in parser._actions:
        if action.option_strings and action.type in (int, float, positive_int):
            return [action.option_strings[-1], "nope"]
        if action.option_strings and action.choices:
            return [action.option_strings[-1], "no-such-choice"]
    return ["--no-such-option"]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error: " in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("words, parser", LEAVES, ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_subcommand_answers_a_bad_argument_with_one_line(words, parser, capsys):
    bad = _bad_argument(parser)
    with pytest.raises(SystemExit) as exit_info:
        main([*words, *bad])
    assert exit_info.value.code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"python -m spark_edu {' '.join(words)}: error: ")


@pytest.mark.parametrize("words", [w for w, p in LEAVES if any("--out" in a.option_strings for a in p._actions)])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(words, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--out", str(blocker / "inside")])
    assert exit_info.value.code == 2
    assert "a-file is not a folder" in _one_error_line(capsys.readouterr().err)


def test_an_os_error_while_running_is_one_line(monkeypatch, capsys):
    import spark_edu.chapters.moe.bench as bench

    def fails(config):
        raise PermissionError(13, "Permission denied", "/results")

    monkeypatch.setattr(bench, "run_benchmark", fails)
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "moe"])
    assert exit_info.value.code == 2
    assert "Permission denied" in _one_error_line(capsys.readouterr().err)


def test_the_real_command_line_prints_no_traceback():
    import subprocess
    import sys

    for argv in (["--version"], ["bench", "moe", "--tokens", "nope"], ["no-such-command"]):
        done = subprocess.run([sys.executable, "-m", "spark_edu", *argv], capture_output=True, text=True, timeout=120)
        if argv == ["--version"]:
            assert done.returncode == 0 and done.stdout.startswith("spark_edu ")
        else:
            assert done.returncode == 2 and done.stdout == ""
            _one_error_line(done.stderr)
