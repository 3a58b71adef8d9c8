"""Apply the static-page edits to the book's notebooks (idempotent: a second run changes nothing).

Run after merging chapter branches, then re-execute the notebooks it reports as changed::

    PYTHONPATH=$PWD .venv/bin/python tools/static_page.py [book/<chapter>.ipynb ...]

What it changes (source and metadata only; outputs are left for re-execution):

1. The Colab install cell (the code cell containing ``on Colab, fetch the package``) gets the
   ``remove-cell`` tag: it stays in the notebook (Colab runs it) and is not drawn on the page.
2. Every widget cell (a code cell calling ``interactive(render``) keeps the
   ``nbval-ignore-output`` tag (its twin's PNG frames and the live widget differ per run).

The static twins themselves need no notebook edit: ``spark_edu.widgets.interactive`` emits
them when the cell executes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB_MARK = "on Colab, fetch the package"
WIDGET_MARK = "interactive(render"
TAGS = {COLAB_MARK: "remove-cell", WIDGET_MARK: "nbval-ignore-output"}


def apply(path: Path) -> bool:
    """Edit one notebook in place; True if it changed."""
    text = path.read_text()
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        for mark, tag in TAGS.items():
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if mark in source and tag not in tags:
                tags.append(tag)
            if not tags:
                del cell["metadata"]["tags"]
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new)
        return True
    return False


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    for path in paths:
        print(f"{'changed' if apply(path) else 'unchanged'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
