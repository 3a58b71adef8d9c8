"""``python -m spark_edu bench attention``: the sparse-attention chapter's kernel benchmark;
``python -m spark_edu run sparse_attention --fair-resources | --fair-cost``: the fair resource
study (``fair_resources.json``) and its cost measurement (``fair_cost.json``);
``--length-scaling`` (``length_scaling.json``) and ``--pattern-seeds`` (``pattern_seeds.json``):
the measurements behind the report's statements (:mod:`.statements`)."""

from __future__ import annotations

from spark_edu.commandline import Command, output_dir, output_file, positive_int
from spark_edu.results import data_dir


def configure(parser) -> None:
    from spark_edu.chapters.sparse_attention.bench import ALL_PATHS, DEFAULT_PATHS, PATTERNS, BenchConfig

    parser.add_argument(
        "--lengths", type=positive_int, nargs="+", default=list(BenchConfig.lengths), help="sequence lengths L"
    )
    parser.add_argument(
        "--patterns",
        nargs="+",
        default=list(BenchConfig.patterns),
        choices=sorted(PATTERNS),
        metavar="PATTERN",
        help=f"patterns, from {', '.join(sorted(PATTERNS))}",
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        default=list(DEFAULT_PATHS),
        choices=ALL_PATHS,
        metavar="PATH",
        help=f"kernels to time beside dense SDPA, from {', '.join(ALL_PATHS)}",
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=BenchConfig.repeats, help="interleaved timing rounds after warm-up"
    )
    parser.add_argument("--block-size", type=positive_int, default=BenchConfig.block_size, help="tile size b")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch threads for the run (None: torch's); 1 gives stable ratios on a shared machine",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the tensors live")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--csv", type=output_file, default=None, help="write every row to this CSV file")
    parser.add_argument("--md", type=output_file, default=None, help="write the summary table to this Markdown file")


def run(args) -> int:
    import torch

    from spark_edu.chapters.sparse_attention.bench import BenchConfig, run
    from spark_edu.chapters.sparse_attention.bench_table import markdown, write_csv
    from spark_edu.device import cpu_capability
    from spark_edu.results import write_atomic

    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: CUDA is not available on this machine")
    config = BenchConfig(
        tuple(args.lengths),
        tuple(args.patterns),
        tuple(args.paths),
        repeats=args.repeats,
        block_size=args.block_size,
        memory=not args.no_memory,
        device=args.device,
        threads=args.threads,
    )
    print(
        f"torch {torch.__version__}, CPU capability {cpu_capability()}, "
        f"{args.threads or torch.get_num_threads()} threads, device {args.device}, "
        f"B={config.batch} H={config.heads} D={config.head_dim} fp32, block {config.block_size}, "
        f"{config.repeats} interleaved repeats"
    )
    rows = run(config, progress=lambda text: print("  running", text, flush=True))
    table = markdown(rows)
    print(table)
    compiled = [r for r in rows if r.compile_s > 0]
    if compiled:
        print(
            "compile time (s, excluded above): "
            + ", ".join(f"L={r.length} {r.pattern} {r.path} {r.compile_s:.1f}" for r in compiled)
        )
    if args.csv:
        write_csv(rows, args.csv)
    if args.md:
        write_atomic(args.md, table + "\n")
    return 0


def configure_fair(parser) -> None:
    from spark_edu.chapters.sparse_attention.fair_study import FairStudy

    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--fair-resources",
        action="store_true",
        help="train the fair study (3 models x 2 tasks x 3 rates, then 3 seeds; at most 80 CPU-minutes) "
        "and write fair_resources.json after every run",
    )
    which.add_argument(
        "--fair-cost",
        action="store_true",
        help="time, profile memory and count FLOPs of one training step per model; write fair_cost.json",
    )
    which.add_argument(
        "--length-scaling",
        action="store_true",
        help="time and profile dense SDPA and the fixed-window band kernels at n = 1024 ... 8192 (one thread); "
        "write length_scaling.json",
    )
    which.add_argument(
        "--pattern-seeds",
        action="store_true",
        help="train dense, local60, block70 and random80 on the T=128 lagged copy over 6 seeds and time one "
        "step of each (one thread); write pattern_seeds.json",
    )
    parser.add_argument(
        "--rope",
        action="store_true",
        help="with --fair-resources: the dense and sparse models with rotary positions instead "
        "(written to fair_resources_rope.json)",
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="training runs at once (one thread each)")
    parser.add_argument("--resume", action="store_true", help="keep the runs already saved, train the rest")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny study (T=128, 30 steps) to check the set-up, written to fair_resources_quick.json",
    )
    parser.add_argument("--steps", type=positive_int, default=FairStudy.steps, help="step budget per training run")
    parser.add_argument(
        "--lengths", type=positive_int, nargs="+", default=[1024, 2048], help="with --fair-cost: sequence lengths"
    )
    parser.add_argument("--rounds", type=positive_int, default=7, help="with --fair-cost: paired timing rounds")
    parser.add_argument("--threads", type=positive_int, default=1, help="with --fair-cost: torch threads")
    parser.add_argument(
        "--out", type=output_dir, default=data_dir("sparse_attention"), help="folder to write the JSON file to"
    )


def run_fair(args) -> int:
    import dataclasses
    import json

    from spark_edu.chapters.sparse_attention import fair_cost, fair_study
    from spark_edu.results import write_atomic

    if args.length_scaling or args.pattern_seeds:
        return _run_statement_data(args)
    if args.fair_cost:
        path = args.out / fair_cost.FAIR_COST
        cost = fair_cost.measure_costs(lengths=tuple(args.lengths), rounds=args.rounds, n_threads=args.threads)
        cost["command"] = (
            f"python -m spark_edu run sparse_attention --fair-cost --lengths {' '.join(map(str, args.lengths))}"
        )
        cost["command"] += f" --rounds {args.rounds} --threads {args.threads}"
        for length, rows in cost["lengths"].items():
            for name, row in rows.items():
                print(
                    f"T={length} {name:<12} {row['median_ms']:7.1f} ms ({row['time_ratio']:.2f}x {row['baseline']}), "
                    f"{row['peak_mb']:7.1f} MB ({row['memory_ratio']:.2f}x), FLOPs {row['flops_ratio']:.2f}x"
                )
        print(f"{cost['threads']} thread(s), load average {cost['load_average']}")
        write_atomic(path, json.dumps(cost, indent=1))
        print("wrote", path)
        return 0
    spec = fair_study.QUICK_STUDY if args.quick else fair_study.FairStudy()
    if args.rope:
        spec = dataclasses.replace(spec, models=fair_study.ROPE_STUDY.models)
    spec = dataclasses.replace(spec, steps=args.steps) if args.steps != fair_study.FairStudy.steps else spec
    command = "python -m spark_edu run sparse_attention --fair-resources" + " --rope" * args.rope
    command += " --quick" * args.quick + f" --steps {spec.steps}" * (args.steps != fair_study.FairStudy.steps)
    command += f" --workers {args.workers}" * (args.workers > 1)
    path = args.out / fair_study.file_name(args.rope, args.quick, spec.steps)
    study = fair_study.run_study(spec, path, args.workers, args.resume, command, progress=print)
    print(f"{len(study['runs'])} runs in {study['seconds']:.0f} s; rates: {study['best_lr']}")
    print("wrote", path)
    return 0


def _run_statement_data(args) -> int:
    if args.length_scaling:
        from spark_edu.chapters.sparse_attention import length_scaling as ls

        data = ls.run_and_save(args.out / ls.LENGTH_SCALING)
        for point, kernel in zip(data["points"], ls.summary(data)["sparse_kernels"]):
            n, mb = point["length"], point["peak_mb"]
            print(
                f"n={n}: SDPA {ls.median_ms(point, 'sdpa'):.1f} ms {mb['sdpa']:.1f} MB, fastest band kernel "
                f"{kernel} {ls.median_ms(point, kernel):.1f} ms {mb[kernel]:.1f} MB, "
                f"materialising {point['materialising_mb']:.0f} MB"
            )
        print(f"{data['seconds']:.0f} s; wrote", args.out / ls.LENGTH_SCALING)
        return 0
    from spark_edu.chapters.sparse_attention import pattern_seeds as ps

    data = ps.run_study(path=args.out / ps.PATTERN_SEEDS, progress=print)
    for pattern, row in data["step_time"].items():
        print(f"{pattern}: step {row['median_ms']:.1f} ms, {row['ratio'][0]:.2f}x dense")
    print(f"{data['seconds']:.0f} s; wrote", args.out / ps.PATTERN_SEEDS)
    return 0


COMMANDS = {
    ("bench", "attention"): Command("time sparse attention kernels against dense SDPA, side by side", configure, run),
    ("run", "sparse_attention"): Command(
        help="the fair resource study (--fair-resources), its cost (--fair-cost), or the statements' "
        "measurements (--length-scaling, --pattern-seeds)",
        description=(
            "--fair-resources: dense, dense with the sparse layout's band as a mask, and 80% block-sparse\n"
            "transformers on a local and a long-range lagged copy at T=1024: per (task, model) seed 0 at 3\n"
            "learning rates, the rate reaching 95% held-out accuracy soonest, then seeds 1 and 2 at it;\n"
            "writes fair_resources.json after every run (--resume continues it); with --rope the dense and\n"
            "sparse models with rotary positions, written to fair_resources_rope.json.\n"
            "--fair-cost: one training step per model at each length, timed in paired rounds on one thread,\n"
            "peak memory and analytic FLOPs; writes fair_cost.json.\n"
            "--length-scaling: dense SDPA and a fixed-window (|i - j| <= 128) local pattern's kernels at\n"
            "n = 1024 ... 8192, time in paired rounds and peak memory; writes length_scaling.json.\n"
            "--pattern-seeds: the report's four patterns trained on the T=128 lagged copy, 6 seeds, one\n"
            "setting; held-out accuracy and loss, and one step timed per pattern; writes pattern_seeds.json.\n"
            "Run them on a quiet machine."
        ),
        configure=configure_fair,
        run=run_fair,
    ),
}
