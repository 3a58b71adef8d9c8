"""The README's local route, as a reader follows it: `make book`, then `.venv/bin/jupyter lab`.

The book extra must provide JupyterLab and every module the notebooks import, and the
server the README starts must come up and answer on its status page.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _notebook_imports(path: Path) -> set[str]:
    """Top-level module names imported by the code cells (IPython magics and shell lines dropped)."""
    names = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        code = "\n".join(  # an IPython magic or shell line becomes `pass`, keeping its indentation
            line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
            for line in lines
        )
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(extra: str) -> set[str]:
    """Every distribution that installing ``spark_edu[extra]`` brings (markers evaluated).

    spark_edu's own requirements come from pyproject.toml (installed metadata can be stale
    beside an editable checkout); the rest from the installed packages' metadata.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"][extra]]
    seen, todo = set(), [(r.name, frozenset(r.extras)) for r in direct]
    while todo:
        name, wanted = todo.pop()
        key = (_normal(name), wanted)
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(req.extras)))
    return {name for name, _ in seen}


def test_the_book_extra_provides_every_notebook_import():
    provided = _closure("book")
    owners = importlib.metadata.packages_distributions()
    missing = {}
    for path in NOTEBOOKS:
        for module in _notebook_imports(path):
            if module in sys.stdlib_module_names or module == "spark_edu":
                continue
            dists = {_normal(d) for d in owners.get(module, [])}
            if not dists & provided:
                missing.setdefault(module, []).append(path.name)
    assert not missing, f"imported by the notebooks but not installed by the book extra: {missing}"
    assert "jupyterlab" in provided, "the README's `.venv/bin/jupyter lab` needs jupyterlab in the book extra"


def _readme_command() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    lines = [line.strip() for line in readme.splitlines() if line.strip().startswith(".venv/bin/jupyter lab")]
    assert lines, "the README no longer says how to start JupyterLab"
    return shlex.split(lines[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyter_lab_starts_as_the_readme_says(tmp_path):
    """The README's command, headless, on a free loopback port with a token: /api/status answers."""
    command = _readme_command()
    executable = ROOT / command[0]
    if not executable.exists():
        pytest.skip("run `make book` first: .venv/bin/jupyter is missing")
    port, token = _free_port(), "spark-edu-test-token"
    env = dict(os.environ)
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[var] = str(tmp_path / var.lower())  # the reader's own settings stay untouched
    argv = [str(executable), *command[1:], "--no-browser", "--ip", "127.0.0.1", "--port", str(port)]
    argv += [f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:  # CI and containers run as root; the README says to add this flag there
        assert "--allow-root" in (ROOT / "README.md").read_text()
        argv.append("--allow-root")
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    try:
        status, deadline = None, time.monotonic() + 120
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    status = json.loads(response.read())
            except OSError:
                time.sleep(0.5)
        assert status is not None, f"no answer from {url}: {server.poll()=}"
        assert "started" in status and "connections" in status, status
        with pytest.raises(urllib.error.HTTPError) as denied:  # the token is what lets us in
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5)
        assert denied.value.code == 403
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    assert server.returncode is not None
