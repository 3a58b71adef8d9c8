"""``python -m spark_edu run fk_attention``: regenerate the chapter's pointer-chasing sweep
(``sweep.csv``); with ``--study`` (or ``--cell``) its steps-to-accuracy study (``steps_*.json``,
one file per cell); with ``--cost-only`` its saved timing of the attention paths (``cost.json``); with
``--step-cost-only`` the training-step time of the study's FK models against standard (``step_cost.json``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spark_edu.chapters.fk_attention.experiments import KINDS
from spark_edu.commandline import Command, output_dir, positive_int
from spark_edu.results import data_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=positive_int, default=1000, help="training steps per model")
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds per cell (0, 1, …, SEEDS − 1)")
    parser.add_argument("--hops", type=positive_int, nargs="+", default=[1, 2, 3], help="hop counts k to sweep")
    parser.add_argument("--layers", type=positive_int, nargs="+", default=[1, 2], help="layer counts to sweep")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS, help="attention kinds to train")
    parser.add_argument(
        "--out",
        type=output_dir,
        default=data_dir("fk_attention"),
        help="folder for sweep.csv (rewritten after each model), or cost.json / step_cost.json with "
        "--cost-only / --step-cost-only",
    )
    parser.add_argument(
        "--cost-only",
        action="store_true",
        help="train nothing: time every attention path against standard attention in paired rounds, write cost.json "
        "(run it alone on a quiet machine)",
    )
    parser.add_argument(
        "--step-cost-only",
        action="store_true",
        help="train nothing: time one training step of each study cell's FK models against standard attention in "
        "paired rounds, write step_cost.json (run it alone on a quiet machine)",
    )
    parser.add_argument(
        "--study",
        action="store_true",
        help="train nothing of the sweep: run the steps-to-accuracy study on every cell of study.CELLS "
        "(learning rates tuned per variant, then seeds), write steps_<task>_k<hops>_l<layers>.json",
    )
    parser.add_argument(
        "--cell",
        nargs=3,
        action="append",
        metavar=("TASK", "HOPS", "LAYERS"),
        help="with --study: run only this cell (repeatable), e.g. --cell reach 2 1; TASK is pointer or reach",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        help="with --study: the variants to train (default: all, or study.HEAVY_VARIANTS on the two-layer cell)",
    )
    parser.add_argument("--lrs", type=float, nargs="+", help="with --study: learning rates tried per variant on seed 0")
    parser.add_argument("--max-steps", type=positive_int, help="with --study: step budget (default: the cell's)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="with --study: keep the runs already in each cell's file (same settings) and train only the missing "
        "ones, e.g. after adding a learning rate to --lrs",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=9,
        help="with --cost-only or --step-cost-only: paired timing rounds (per length, or per cell) after a warm-up "
        "(>= 7)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="with --cost-only: torch intra-op threads (more than 1 breaks torch's batched solve: pytorch#142815)",
    )


def run(args: argparse.Namespace) -> int:
    if args.cost_only:
        return run_cost(args)
    if args.step_cost_only:
        return run_step_cost(args)
    if args.study or args.cell:
        return run_study(args)
    from spark_edu.chapters.fk_attention.experiments import PointerRun, hop_sweep
    from spark_edu.chapters.fk_attention.sweep import format_summary, save_records, summarize
    from spark_edu.tasks.pointer_chasing import PointerChasingConfig

    setting = PointerRun(steps=args.steps)
    for hops in args.hops:  # a bad value stops here, before the saved sweep is overwritten
        PointerChasingConfig(setting.n_nodes, hops)
    path = Path(args.out) / "sweep.csv"
    done: list[dict] = []
    save_records(done, path)  # header only

    def record(r: dict) -> None:  # every finished model is on disk, even if the sweep stops
        done.append(r)
        save_records(done, path)

    records = hop_sweep(
        hops=tuple(args.hops),
        layers=tuple(args.layers),
        kinds=tuple(args.kinds),
        seeds=tuple(range(args.seeds)),
        run=setting,
        on_record=record,
    )
    print(format_summary(summarize(records)))
    print("wrote", path)
    return 0


def run_cost(args: argparse.Namespace) -> int:
    from spark_edu.chapters.fk_attention.analysis import COST_FILE, format_cost, measure_cost, save_cost

    rows = measure_cost(rounds=args.rounds, n_threads=args.threads)  # a bad --rounds stops here, before writing
    print(format_cost(rows))
    print("wrote", save_cost(rows, Path(args.out) / COST_FILE))
    return 0


def run_step_cost(args: argparse.Namespace) -> int:
    from spark_edu.chapters.fk_attention.step_cost import STEP_COST_FILE, format_step_cost, save_step_cost
    from spark_edu.chapters.fk_attention.step_cost import timed_step_cost

    rows, wall_s = timed_step_cost(rounds=args.rounds)  # a bad --rounds stops here, before writing
    print(format_step_cost(rows))
    print("wrote", save_step_cost(rows, Path(args.out) / STEP_COST_FILE, wall_s))
    return 0


def run_study(args: argparse.Namespace) -> int:
    from spark_edu.chapters.fk_attention import study
    from spark_edu.chapters.fk_attention.steps import check_variant

    cells = [(t, int(h), int(n)) for t, h, n in args.cell] if args.cell else list(study.CELLS)
    for name in args.variants or ():
        check_variant(name)  # a bad name stops here, before any file is written
    for task, hops, layers in cells:
        heavy = study.HEAVY_VARIANTS if layers > 1 else tuple(study.VARIANTS)
        path = study.run_cell(
            task,
            hops,
            layers,
            args.out,
            variants=tuple(args.variants or heavy),
            lrs=tuple(args.lrs or study.CELL_LRS.get((task, hops, layers), study.LRS)),
            seeds=args.seeds,
            max_steps=args.max_steps,
            resume=args.resume,
        )
        print(study.format_summary(study.merge([study.load_cell(path)])))
        print("wrote", path)
    return 0


COMMANDS = {
    ("run", "fk_attention"): Command(
        help="k-hop pointer chasing: train standard and FK transformers; write sweep.csv (or time: cost.json)",
        configure=configure,
        run=run,
        description="k-hop pointer chasing, standard vs FK attention at the same parameter count and budget.\n"
        "The full sweep (36 models) takes about a quarter of an hour of CPU time.\n"
        "With --study: steps to a fixed accuracy per variant (the β sweep, learned β, the no-self resolvent)\n"
        "on pointer chasing and reachability, learning rates tuned per variant (about an hour of CPU time).\n"
        "With --cost-only: time standard attention and every FK path instead (under a minute) and write\n"
        "cost.json, which the chapter's cost section reads.\n"
        "With --step-cost-only: time one training step of each study cell's FK models against standard\n"
        "(under a minute) and write step_cost.json, which the chapter's statements read.",
    )
}
