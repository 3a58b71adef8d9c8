"""Drop what a re-executed notebook stores but no reader sees: each cell's execution timings.

``make execute`` runs it after ``jupyter execute --inplace``; usage:
``python tools/tidy_notebooks.py book/moe.ipynb [...]``. Outputs, widget state and the
notebook's own metadata are kept as they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def tidy(path: Path) -> int:
    """Remove ``metadata.execution`` from every cell of ``path``; return the bytes saved."""
    text = path.read_text()
    notebook = json.loads(text)
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    tidied = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    path.write_text(tidied)
    return len(text) - len(tidied)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {tidy(Path(name)):,} bytes of execution timings removed")
