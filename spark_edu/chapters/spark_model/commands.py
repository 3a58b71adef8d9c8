"""``python -m spark_edu run spark_model``: regenerate the chapter's ``results.json``, or with
``--convergence`` its ``convergence.json`` (the learning-rate sweep and seed runs), or with
``--reproducibility`` its ``reproducibility.json`` (the prototype benchmarks over 8 seeds);
``python -m spark_edu bench spark``: its training step against a baseline tree (``step_bench.json``)."""

from __future__ import annotations

import argparse
import json

from spark_edu.commandline import Command, output_dir, output_file, positive_int
from spark_edu.results import data_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds × 150 steps instead of 3 × 300 (with --convergence: a tiny study)"
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="training runs at once (one thread each)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--convergence",
        action="store_true",
        help="run the convergence study instead (learning-rate sweep, then 5 seeds per configuration, "
        "hours on 2 cores with --workers 2) and write convergence.json",
    )
    which.add_argument(
        "--reproducibility",
        action="store_true",
        help="run the FK and SPD prototype benchmarks with 8 seeds instead (under a minute) and write "
        "reproducibility.json",
    )
    which.add_argument("--no-timings", action="store_true", help="skip timing the component chapters")
    which.add_argument(
        "--timings-only", action="store_true", help="re-time the component chapters only, keeping the saved ablation"
    )
    parser.add_argument(
        "--resume", action="store_true", help="with --convergence: keep the runs already saved, train the rest"
    )
    parser.add_argument(
        "--long",
        action="store_true",
        help="with --convergence: the 3000-step study of the slow configurations (1000-step sweep, "
        "5 seeds; written to convergence_long.json)",
    )
    parser.add_argument(
        "--out",
        type=output_dir,
        default=data_dir("spark_model"),
        help="folder to write results.json to (and read it from)",
    )


def run(args: argparse.Namespace) -> int:
    from spark_edu.chapters.spark_model.experiments import summarize
    from spark_edu.chapters.spark_model.runs import QUICK, RESULTS, FullRun, compact, full_run, load_results
    from spark_edu.chapters.spark_model.timings import component_timings
    from spark_edu.results import write_atomic

    if args.reproducibility:
        from spark_edu.chapters.spark_model.reproducibility import REPRODUCIBILITY, run_reproducibility

        result = run_reproducibility()
        write_atomic(args.out / REPRODUCIBILITY, json.dumps(result, indent=1))
        print(f"{len(result['seeds'])} seeds of the prototype benchmarks in {result['wall_s']:.0f} s")
        print("wrote", args.out / REPRODUCIBILITY)
        return 0
    if args.convergence:
        from spark_edu.chapters.spark_model import convergence as c

        if args.long and args.quick:
            raise ValueError("--long and --quick: choose one study")
        spec = c.LONG_STUDY if args.long else c.QUICK_STUDY if args.quick else c.Study()
        name = c.LONG_CONVERGENCE if args.long else c.CONVERGENCE
        study = c.run_study(spec, args.out / name, args.workers, args.resume)
        print(f"{len(study['sweep'])} sweep runs, {len(study['runs'])} seed runs in {study['seconds']:.0f} s")
        print("best learning rates:", study["best_lr"])
        print("wrote", args.out / name)
        return 0
    path = args.out / RESULTS
    if args.timings_only:
        results = load_results(path)
        if results is None:
            raise ValueError(f"--timings-only needs an existing {path}")
        results["timings"] = component_timings()
    else:
        results = full_run(QUICK if args.quick else FullRun(), timings=not args.no_timings, workers=args.workers)
    write_atomic(path, json.dumps(compact(results), indent=0))
    for name, (m, lo, hi) in summarize(results["records"]).items():
        print(f"{name:<26} accuracy on the predictable part {m:.3f} [{lo:.3f}, {hi:.3f}]")
    for comp, t in results.get("timings", {}).items():
        print(f"{comp:<9} evaluation: {t['seconds']} s")
    print("wrote", path)
    return 0


def configure_bench(parser: argparse.ArgumentParser) -> None:
    from spark_edu.chapters.spark_model.step_bench import BASELINE_COMMIT, BENCH, StepBenchConfig

    parser.add_argument(
        "--baseline-tree",
        required=True,
        help=f"source tree of the baseline, e.g. git worktree add ../base {BASELINE_COMMIT}",
    )
    parser.add_argument(
        "--candidate-tree", default=None, help="source tree to time against it (default: the one running this command)"
    )
    parser.add_argument(
        "--threads", type=positive_int, nargs="+", default=list(StepBenchConfig.threads), help="thread counts"
    )
    parser.add_argument("--rounds", type=positive_int, default=StepBenchConfig.rounds, help="paired rounds per count")
    parser.add_argument("--steps", type=positive_int, default=StepBenchConfig.steps, help="steps per round (median)")
    parser.add_argument(
        "--component-rounds", type=int, default=StepBenchConfig.component_rounds, help="paired per-component rounds"
    )
    parser.add_argument("--out", type=output_file, default=data_dir("spark_model") / BENCH, help="JSON file to write")


def run_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    import spark_edu
    from spark_edu.chapters.spark_model.step_bench import StepBenchConfig, format_report, run_step_bench
    from spark_edu.results import write_atomic

    candidate = args.candidate_tree or str(Path(spark_edu.__file__).resolve().parent.parent)
    config = StepBenchConfig(
        args.baseline_tree, candidate, tuple(args.threads), args.rounds, args.steps, args.component_rounds
    )
    result = run_step_bench(config, progress=lambda text: print(" ", text, flush=True))
    print(format_report(result))
    write_atomic(args.out, json.dumps(result, indent=1))
    print("wrote", args.out)
    return 0


COMMANDS = {
    ("bench", "spark"): Command(
        "the SPaR-K training step against a baseline source tree, interleaved in two processes",
        configure_bench,
        run_bench,
    ),
    ("run", "spark_model"): Command(
        help="train the SPaR-K ablation or (--convergence) the convergence study; write its saved results",
        description=(
            "Default: train every on/off combination of FK attention, the SPD router and the verifier head,\n"
            "and the size-matched standard transformer, 3 seeds x 300 steps; time each component chapter's\n"
            "reproduce(quick=True); write results.json (the chapter reads its timings).\n"
            "--convergence: for every configuration of the convergence study (the SPD router in each wiring,\n"
            "FK x SPD, the verifier head, the full model), a learning-rate sweep on a selection seed, then\n"
            "5 seeds at the best rate; write convergence.json after every run (--resume continues it).\n"
            "--reproducibility: the FK attention and SPD router prototype benchmarks, 8 seeds each;\n"
            "write reproducibility.json.\n"
            "The chapter and reproduce(quick=True) read these files."
        ),
        configure=configure,
        run=run,
    ),
}
