"""python -m spark_edu COMMAND: the one command line of the spark_edu package.

Each chapter that has a command keeps it in ``spark_edu/chapters/<chapter>/commands.py``;
this module gathers them: ``reproduce`` (the audit), ``bench attention|moe|spark`` (side-by-side
timings) and ``run <chapter>`` (regenerate a chapter's saved results).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from spark_edu import __version__
from spark_edu.commandline import HelpFormatter, Parser

#: Chapters whose ``commands.py`` adds subcommands, in the order ``--help`` lists them.
COMMAND_CHAPTERS = ("audit", "sparse_attention", "moe", "fk_attention", "spd_router", "verifier", "spark_model")
GROUPS = {
    "bench": "side-by-side benchmarks (paired timings, medians and IQRs)",
    "run": "regenerate a chapter's saved results",
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m spark_edu", description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"spark_edu {__version__}")
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for chapter in COMMAND_CHAPTERS:
        for words, command in importlib.import_module(f"spark_edu.chapters.{chapter}.commands").COMMANDS.items():
            where = top
            prog = "python -m spark_edu"
            if len(words) == 2:
                if words[0] not in groups:
                    group = top.add_parser(
                        words[0], help=GROUPS[words[0]], description=GROUPS[words[0]], formatter_class=HelpFormatter
                    )
                    groups[words[0]] = group.add_subparsers(dest="name", required=True, metavar="NAME")
                where, prog = groups[words[0]], f"{prog} {words[0]}"
            sub = where.add_parser(
                words[-1],
                help=command.help,
                description=command.description or command.help,
                formatter_class=HelpFormatter,
                prog=f"{prog} {words[-1]}",
            )
            command.configure(sub)
            sub.set_defaults(run=command.run, parser=sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as error:  # a bad option value, an unwritable folder: one line, exit 2
        args.parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
