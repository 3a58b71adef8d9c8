"""``python -m spark_edu run spd_router``: regenerate the chapter's saved run (``results.json``)."""

from __future__ import annotations

import argparse
import dataclasses

from spark_edu.commandline import Command, output_dir, positive_int


def configure(parser: argparse.ArgumentParser) -> None:
    from spark_edu.chapters.spd_router.experiments import FULL
    from spark_edu.chapters.spd_router.saved import data_folder

    from spark_edu.chapters.spd_router.saved import PARTS

    parser.add_argument(
        "--out", type=output_dir, default=data_folder(), help="folder for stationary.json and nonstationary.json"
    )
    parser.add_argument(
        "--part", choices=PARTS, nargs="+", default=list(PARTS), help="which part(s) to run (each writes its file)"
    )
    parser.add_argument("--steps", type=positive_int, default=FULL.steps, help="training steps per router")
    parser.add_argument("--seeds", type=positive_int, default=5, help="seeds per setting (0, 1, …, SEEDS − 1)")


def run(args: argparse.Namespace) -> int:
    from spark_edu.chapters.spd_router.experiments import FULL
    from spark_edu.chapters.spd_router.nonstationary import format_conditions
    from spark_edu.chapters.spd_router.experiments import format_sweep
    from spark_edu.chapters.spd_router.saved import COMMAND, run_all, save

    command = COMMAND + (f" --steps {args.steps}" if args.steps != FULL.steps else "")
    command += f" --seeds {args.seeds}" if args.seeds != 5 else ""
    command += f" --part {' '.join(args.part)}" if len(args.part) == 1 else ""
    config = dataclasses.replace(FULL, steps=args.steps)
    results = run_all(config, range(args.seeds), command=command, parts=tuple(args.part))
    if "stationary" in results:
        print(format_sweep(results["stationary"]["records"]))
    if "nonstationary" in results:
        part = results["nonstationary"]
        print(format_conditions([r for c in part if c != "made" for r in part[c]["records"]]))
    for part in results:
        print(f"{part}: wall time {results[part]['made']['wall_seconds']:.0f} s")
    print("wrote", *save(results, args.out))
    return 0


COMMANDS = {
    ("run", "spd_router"): Command(
        help="SPD router vs the LMMSE and DCT gates: stationary sweep and two non-stationary conditions",
        configure=configure,
        run=run,
        description="Tune each router's learning rate (4 values), train it over the seeds on the stationary noise\n"
        "sweep and on two non-stationary conditions (noise level or band varying per signal), beside the\n"
        "LMMSE fitted on the same data, an oracle LMMSE and the classical DCT gates; write stationary.json\n"
        "and nonstationary.json (about 5 and 3 minutes on one quiet core; --part runs one of them).",
    )
}
