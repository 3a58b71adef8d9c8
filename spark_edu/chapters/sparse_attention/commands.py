"""``python -m spark_edu bench attention``: the sparse-attention chapter's kernel benchmark."""

from __future__ import annotations

from spark_edu.commandline import Command, output_file, positive_int


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

    from spark_edu.chapters.sparse_attention.bench import BenchConfig, markdown, run, write_csv
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


COMMANDS = {
    ("bench", "attention"): Command("time sparse attention kernels against dense SDPA, side by side", configure, run)
}
