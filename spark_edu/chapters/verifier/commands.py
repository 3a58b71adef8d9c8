"""``python -m spark_edu run verifier``: regenerate the verifier chapter's saved sweep."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from spark_edu.commandline import Command, output_dir, positive_int
from spark_edu.results import data_dir, write_atomic


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=output_dir, default=data_dir("verifier"), help="folder for results.json and the seed-0 weights"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="smaller run: Dyck-2 only, 2 seeds, 300 steps, two models")
    which.add_argument(
        "--sequence-long",
        action="store_true",
        help="only the sequence-label-only models, 4000 steps, rates tuned again; write sequence_long.json "
        "(no weights)",
    )
    which.add_argument(
        "--verifier-long",
        action="store_true",
        help="only the verifier, 6000 steps (4x the budget), at the rate results.json chose; write "
        "verifier_long.json (no weights)",
    )
    parser.add_argument("--jobs", type=positive_int, default=2, help="parallel processes (one thread each)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the runs of --out's results.partial.json (or results.json) and train only the missing ones",
    )


def run(args: argparse.Namespace) -> int:
    from spark_edu.chapters.verifier.experiments import load_results, summary
    from spark_edu.chapters.verifier.models import QUICK, SEQUENCE_LONG, VERIFIER_LONG, ExperimentConfig
    from spark_edu.chapters.verifier.sweep import run_sweep

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "sequence_long" if args.sequence_long else "verifier_long" if args.verifier_long else "results"
    command = "python -m spark_edu " + shlex.join(sys.argv[1:])

    def save(partial: dict) -> None:  # after every task, so an interrupted sweep keeps what it finished
        partial["provenance"]["command"] = command
        write_atomic(out / f"{name}.partial.json", json.dumps(partial, indent=1))

    previous = None
    if args.resume:
        found = [p for p in (out / f"{name}.partial.json", out / f"{name}.json") if p.is_file()]
        previous = json.loads(found[0].read_text()) if found else None
    cfg = (
        QUICK
        if args.quick
        else SEQUENCE_LONG
        if args.sequence_long
        else VERIFIER_LONG
        if args.verifier_long
        else ExperimentConfig()
    )
    long_run = args.sequence_long or args.verifier_long
    weights = None if long_run else str(out)  # the long runs keep the shipped weights
    fixed = {"lrs": load_results()["chosen_lr"]} if args.verifier_long else {}  # the chapter's rate, not tuned again
    results = run_sweep(cfg, args.jobs, weights, on_progress=save, previous=previous, **fixed)
    results["provenance"]["command"] = command
    write_atomic(out / f"{name}.json", json.dumps(results, indent=1))
    (out / f"{name}.partial.json").unlink(missing_ok=True)
    for row in summary(results):
        print(
            f"Dyck-{row['language']} {row['task']:<10} {row['model']:<15} lr {row['lr']:<6g} "
            f"{row['mean']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
        )
    print(f"wall time {results['provenance']['wall_s']:.0f} s; wrote", out / f"{name}.json")
    return 0


COMMANDS = {
    ("run", "verifier"): Command(
        help="tune and train the verifier, a causal transformer and an LSTM on Dyck-1/2 (3 seeds); "
        "write results.json and weights",
        configure=configure,
        run=run,
        description="Stack-augmented verifier head vs a causal transformer and an LSTM of the same size, each at\n"
        "its tuned learning rate, on Dyck-1 and Dyck-2, with all labels or the sequence label only;\n"
        "the chapter states the wall time of the full sweep.",
    )
}
