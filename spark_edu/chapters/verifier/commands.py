"""``python -m spark_edu run verifier``: regenerate the verifier chapter's saved comparison."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spark_edu.commandline import Command, output_dir, positive_int
from spark_edu.results import data_dir, write_atomic


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=output_dir, default=data_dir("verifier"), help="folder for results.json and the seed-0 weights"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller run: Dyck-2 only, 2 seeds, 300 steps, no third model"
    )
    parser.add_argument("--jobs", type=positive_int, default=2, help="parallel processes (one core each)")


def run(args: argparse.Namespace) -> int:
    from spark_edu.chapters.verifier.experiments import run_all, summary
    from spark_edu.chapters.verifier.models import QUICK, ExperimentConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run_all(QUICK if args.quick else ExperimentConfig(), jobs=args.jobs, save_dir=str(out))
    write_atomic(out / "results.json", json.dumps(results, indent=1))
    for row in summary(results):
        print(
            f"Dyck-{row['language']} {row['task']:<10} {row['model']:<8} "
            f"{row['mean']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
        )
    print("wrote", out / "results.json")
    return 0


COMMANDS = {
    ("run", "verifier"): Command(
        help="train the verifier and standard models on Dyck-1/2 (3 seeds); write results.json and weights",
        configure=configure,
        run=run,
        description="Stack-augmented verifier head vs a standard transformer of the same size, on Dyck-1 and "
        "Dyck-2:\nthe full comparison takes about 20 minutes on 2 cores.",
    )
}
