"""Small notebook helpers: show the package's own source, and checks that fail loudly.

``show_source`` lets a chapter print the tested code instead of a copy of it;
``check_close`` / ``check_shape`` are the "toy → package → check" step of each section;
``glue`` hands computed numbers to the prose (myst-nb), and is a no-op without myst-nb.
"""

from __future__ import annotations

import inspect
import textwrap

import torch


class Source:
    """Source text that renders as a highlighted code block in the book."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.text}\n```"


def show_source(obj) -> Source:
    """The source of a function, class or module from ``spark_edu``, dedented."""
    return Source(textwrap.dedent(inspect.getsource(obj)).rstrip())


def check_close(
    actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-5, what: str = "values"
) -> str:
    """Raise ``AssertionError`` unless the tensors agree; return a one-line stable summary."""
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shapes differ, {tuple(actual.shape)} vs {tuple(expected.shape)}")
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, equal_nan=True)
    return f"{what}: agree within atol={atol:g}, rtol={rtol:g}"


def check_shape(tensor: torch.Tensor, expected: tuple[int, ...], what: str = "tensor") -> str:
    """Raise ``AssertionError`` unless ``tensor.shape == expected``."""
    if tuple(tensor.shape) != tuple(expected):
        raise AssertionError(f"{what}: expected shape {tuple(expected)}, got {tuple(tensor.shape)}")
    return f"{what}: shape {tuple(expected)} ✓"


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`name``` in the chapter's prose (myst-nb).

    Where myst-nb is not installed (a bare ``pip install spark_edu``, Colab) there is no book to
    paste into, so this does nothing rather than fail.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
