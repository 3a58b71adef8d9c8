"""``python -m spark_edu reproduce``: re-measure every claim of both reports."""

from __future__ import annotations

from spark_edu.chapters import CHAPTERS
from spark_edu.commandline import Command, output_dir


def configure(parser) -> None:
    parser.add_argument(
        "--chapter",
        action="append",
        choices=CHAPTERS,
        metavar="CHAPTER",
        help=f"only this chapter (repeatable); one of {', '.join(CHAPTERS)}; default: all",
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default=None, help="torch default device for the runs (default: torch's)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs (about 5 minutes on 2 cores)")
    parser.add_argument(
        "--out",
        type=output_dir,
        default="reproduction",
        help="output folder for claims.csv, claims.md, environment.json",
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip chapters already finished in --out with the same settings"
    )


def run(args) -> int:
    from spark_edu.chapters.audit.reproduce import reproduce

    table = reproduce(args.chapter or CHAPTERS, quick=args.quick, out=args.out, device=args.device, resume=args.resume)
    print(table)
    print(f"\nwrote {args.out}/claims.csv and {args.out}/claims.md")
    return 0


COMMANDS = {
    ("reproduce",): Command("re-measure every claim of both reports; write claims.csv and claims.md", configure, run)
}
