"""Refresh the stored output of the notebooks' ``show_source(...)`` cells, and nothing else.

A chapter prints the package's own code with ``spark_edu.display.show_source``; strict nbval
compares that output on every run, so a change to a shown function must update it. Re-running
a whole notebook would also rewrite its widget state and timings; this rewrites only the
outputs of cells whose last line is ``show_source(...)``, with exactly the text the kernel
would produce (nbval then checks it).

    .venv/bin/python tools/refresh_shown_source.py book/verifier.ipynb [more notebooks]
"""

from __future__ import annotations

import ast
import sys

import nbformat


def refresh(path: str, write: bool = True) -> int:
    """Bring ``path``'s shown sources up to date (``write=False``: only count the stale ones)."""
    nb = nbformat.read(path, as_version=4)
    namespace: dict = {}
    changed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython syntax (the Colab install cell's %pip): no show_source there
            continue
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        exec(compile(ast.Module(body=imports, type_ignores=[]), path, "exec"), namespace)  # noqa: S102
        last = tree.body[-1] if tree.body else None
        if not (isinstance(last, ast.Expr) and "show_source(" in ast.unparse(last)):
            continue
        source = eval(compile(ast.Expression(last.value), path, "eval"), namespace)  # noqa: S307
        data = {"text/markdown": source._repr_markdown_(), "text/plain": repr(source)}
        (output,) = [o for o in cell.outputs if o.output_type in ("execute_result", "display_data")]
        if dict(output.data) != data:
            output.data = nbformat.from_dict(data)
            changed += 1
    if changed and write:
        nbformat.write(nb, path)
    print(f"{path}: {changed} shown source(s) refreshed")
    return changed


if __name__ == "__main__":
    for notebook in sys.argv[1:]:
        refresh(notebook)
