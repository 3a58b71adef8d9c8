"""Saved results: the files each chapter reads instead of re-running a long experiment.

They ship inside the package (``spark_edu/data/<chapter>/``), so an installed wheel, a Colab
session or a notebook run from any folder finds them through :func:`data_dir`. Commands that
regenerate them take ``--out`` and write wherever the user says; their default is this folder.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

#: Chapters that ship saved results.
SAVED = ("audit", "fk_attention", "moe", "sparse_attention", "spark_model", "verifier")


def data_dir(chapter: str) -> Path:
    """The folder of ``chapter``'s saved results inside the installed package."""
    if chapter not in SAVED:
        raise ValueError(f"chapter must be one of {list(SAVED)}, got {chapter!r}")
    return Path(str(resources.files("spark_edu") / "data" / chapter))


def saved_file(chapter: str, name: str) -> Path:
    """One saved file; a clear ``FileNotFoundError`` naming the command that writes it."""
    path = data_dir(chapter) / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{chapter} has no saved {name!r} in {path.parent}; see the chapter for the command that writes it"
        )
    return path


def load_json(chapter: str, name: str) -> dict:
    """A saved JSON file of ``chapter`` (see :func:`saved_file`)."""
    return json.loads(saved_file(chapter, name).read_text())


def write_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
