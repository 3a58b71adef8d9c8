"""Count how the public API answers the bad calls of ``tests/bad_inputs.py``.

    .venv/bin/python tools/bad_input_census.py            # this checkout
    PYTHONPATH=/path/to/other/checkout .venv/bin/python tools/bad_input_census.py --list

Categories (see ``tests/bad_inputs.py``): clear, works (no error and a sound result), vague,
deep, garbage. Kept out of the package: it is a tool for reviewers, not part of the API.
"""

from __future__ import annotations

import argparse
import collections
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print every case that is not clear or works")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import spark_edu
    from bad_inputs import CASES, CATEGORIES, classify

    counts, bad = collections.Counter(), []
    for case in CASES:
        category, detail = classify(case)
        counts[category] += 1
        if category not in ("clear", "works"):
            bad.append((category, case.name, detail))
    print(f"spark_edu from {Path(spark_edu.__file__).parent}")
    print(f"{len(CASES)} bad calls: " + ", ".join(f"{c} {counts[c]}" for c in CATEGORIES))
    if args.list:
        for category, name, detail in sorted(bad):
            print(f"  {category:8} {name}: {detail[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
