"""What a chapter needs to offer a subcommand of ``python -m spark_edu``.

A chapter's ``commands.py`` lists :class:`Command` objects under their words (for example
``("bench", "attention")``); ``spark_edu.__main__`` gathers them into one command line. Every
option has a help text and shows its default; a :class:`ValueError` raised by a command is the
user's error and prints as one ``error: …`` line with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One subcommand: a one-line help, the options it adds, and what it runs (exit status)."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown beside every option; descriptions printed as written."""


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
