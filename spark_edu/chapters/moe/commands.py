"""``python -m spark_edu bench moe``: the MoE chapter's dispatch benchmark."""

from __future__ import annotations

import json

from spark_edu.commandline import Command, output_file

HELP = {
    "tokens": "tokens routed in one forward pass",
    "d_model": "model width D",
    "d_hidden": "each expert's hidden width F",
    "n_experts": "number of experts E",
    "k": "experts chosen per token",
    "repeats": "timed repeats of every path (medians reported)",
    "peak_size": "n of the n×n×n float32 matmul that measures the machine's peak",
    "seed": "seed of the input and the router",
    "threads": "torch intra-op threads; 0 keeps torch's default",
}


def configure(parser) -> None:
    from spark_edu.chapters.moe.bench import BenchConfig

    defaults = BenchConfig()
    for name, text in HELP.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name), help=text)
    parser.add_argument("--out", type=output_file, default=None, help="also write the result as JSON to this path")


def run(args) -> int:
    from spark_edu.chapters.moe.bench import BenchConfig, format_report, run_benchmark
    from spark_edu.results import write_atomic

    result = run_benchmark(BenchConfig(**{name: getattr(args, name) for name in HELP}))
    print(format_report(result))
    if args.out:
        write_atomic(args.out, json.dumps(result, indent=1))
    return 0


COMMANDS = {
    ("bench", "moe"): Command("time MoE dispatch paths (loop, sorted, dense) against the matmul peak", configure, run)
}
