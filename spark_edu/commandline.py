"""What a chapter needs to offer a subcommand of ``python -m spark_edu``.

A chapter's ``commands.py`` lists :class:`Command` objects under their words (for example
``("bench", "attention")``); ``spark_edu.__main__`` gathers them into one command line. Every
option has a help text and shows its default; a :class:`ValueError` raised by a command is the
user's error and prints as one ``error: …`` line with exit status 2, never a traceback, and so
does an :class:`OSError` (a folder that cannot be written). Output paths are checked before
any work starts (:func:`output_dir`, :func:`output_file`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Command:
    """One subcommand: a one-line help, the options it adds, and what it runs (exit status)."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown beside every option; descriptions printed as written."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr, ``PROG: error: …``, exit status 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def _writable_folder(folder: Path) -> str | None:
    """Why ``folder`` cannot hold new files (it or its nearest existing parent), or None."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:  # a real probe: permission bits say nothing to root, nor about read-only file systems
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"{existing} is not writable ({error.strerror or error})"
    return None


def output_dir(text: str) -> Path:
    """An argparse type: a folder that exists or can be created, and can be written to."""
    path = Path(text)
    problem = _writable_folder(path)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write into {text!r}: {problem}")
    return path


def output_file(text: str) -> Path:
    """An argparse type: a file path whose folder exists or can be created, and can be written to."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
    problem = _writable_folder(path.parent)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {problem}")
    return path


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
