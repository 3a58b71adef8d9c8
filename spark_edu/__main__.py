"""``python -m spark_edu reproduce [--chapter NAME ...] [--device cpu|cuda] [--quick] [--out DIR]``"""

from __future__ import annotations

import argparse
import sys

from spark_edu.reproduce import CHAPTERS, reproduce


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_edu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rep = commands.add_parser("reproduce", help="re-measure every claim of both reports; write claims.csv/md")
    rep.add_argument("--chapter", action="append", choices=CHAPTERS, help="only these chapters (repeatable)")
    rep.add_argument("--device", choices=("cpu", "cuda"), default=None)
    rep.add_argument("--quick", action="store_true", help="smaller runs (about 5 minutes on 2 cores)")
    rep.add_argument("--out", default="reproduction", help="output folder (default: ./reproduction)")
    args = parser.parse_args(argv)
    table = reproduce(args.chapter or CHAPTERS, quick=args.quick, out=args.out, device=args.device)
    print(table)
    print(f"\nwrote {args.out}/claims.csv and {args.out}/claims.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
