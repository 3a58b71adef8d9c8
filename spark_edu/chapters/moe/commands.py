"""``python -m spark_edu bench moe`` (the dispatch benchmark) and ``bench moe-parallel`` (expert
parallelism over W processes), and :func:`run_parallel_in_subprocess`, which runs the latter as a
fresh ``python -m spark_edu`` process: the way a notebook launches it without depending on how
the notebook's own ``__main__`` looks to ``multiprocessing``'s spawn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from spark_edu.commandline import Command, output_file, positive_int

HELP = {
    "tokens": "tokens routed in one forward pass",
    "d_model": "model width D",
    "d_hidden": "each expert's hidden width F",
    "n_experts": "number of experts E",
    "k": "experts chosen per token",
    "repeats": "paired timing rounds of every path after one warm-up round",
    "peak_size": "n of the n×n×n float32 matmul that measures the machine's peak",
    "seed": "seed of the input and the router",
    "threads": "torch intra-op threads; 0 keeps torch's default",
    "cases": "1: also time E=64 (fine-grained) and 256-token cases, without the dense oracle; 0: skip",
}

#: ``bench moe-parallel``'s integer options and their help texts (``--world-sizes`` and the rest apart).
PARALLEL_HELP = {
    "tokens": "tokens per rank T (weak scaling: every rank routes this many)",
    "d_model": "model width D",
    "d_hidden": "each expert's hidden width F",
    "n_experts": "number of experts E; every world size must divide it",
    "k": "experts chosen per token",
    "repeats": "timed forward passes per world size (medians reported)",
    "warmup": "untimed forward passes before the timed ones",
    "threads_per_rank": "torch intra-op threads in each rank's process (W × this ≤ cores is a fair use)",
    "seed": "seed of the router, the experts and the inputs",
    "record_tokens": "also report the experts chosen by each rank's first N tokens (0: none)",
    "baseline_threads": "also run W=1 on this many threads, the fair one-process baseline (0: skip)",
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
    result["command"] = bench_command(result, str(args.out) if args.out else None)
    print(*format_report(result), sep="\n\n")
    if args.out:
        write_atomic(args.out, json.dumps(result, indent=1))
    return 0


def _capacity(text: str) -> float | None:
    """An argparse type: a number, or ``none`` for no capacity limit (range checked by the config)."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"capacity_factor must be a positive number or 'none', got {text!r}") from None


def configure_routers(parser) -> None:
    from spark_edu.chapters.moe import routers

    parser.add_argument("--steps", type=positive_int, default=routers.STEPS, help="training steps per run")
    parser.add_argument(
        "--seeds", type=positive_int, default=len(routers.SEEDS), help="seeds 0 … N−1 at each method's chosen rate"
    )
    parser.add_argument("--out", type=output_file, default=None, help="also write the result as JSON to this path")


def run_routers(args) -> int:
    from spark_edu.chapters.moe import routers
    from spark_edu.results import write_atomic

    seeds = tuple(range(args.seeds))
    result = routers.compare_routers(seeds=seeds, steps=args.steps)
    words = ["python -m spark_edu run moe"]
    words += [f"--steps {args.steps}"] if args.steps != routers.STEPS else []
    words += [f"--seeds {args.seeds}"] if args.seeds != len(routers.SEEDS) else []
    result["provenance"]["command"] = " ".join(words + ([f"--out {args.out}"] if args.out else []))
    print(routers.format_table(result))
    print(f"train/test overlap {result['overlap']}; wall time {result['provenance']['wall_s']:.0f} s")
    if args.out:
        write_atomic(args.out, json.dumps(result, indent=1))
    return 0


def configure_parallel(parser) -> None:
    from spark_edu.chapters.moe.expert_parallel_bench import ExpertParallelBenchConfig

    defaults = ExpertParallelBenchConfig()
    parser.add_argument(
        "--world-sizes",
        type=positive_int,
        nargs="+",
        default=list(defaults.world_sizes),
        metavar="W",
        help="world sizes to run, one after another, each in W fresh processes",
    )
    for name, text in PARALLEL_HELP.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name), help=text)
    parser.add_argument(
        "--capacity-factor",
        type=str,
        default="none",
        help="expert capacity factor c (capacity ⌈c·T·K/E⌉ per expert); 'none': no limit, nothing dropped",
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=defaults.timeout_s,
        help="seconds one world size may take (start-up, collectives, repeats) before its processes are stopped",
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default=defaults.device, help="cpu: gloo; cuda: NCCL, rank r on cuda:r"
    )
    parser.add_argument("--out", type=output_file, default=None, help="also write the result as JSON to this path")


def run_parallel(args) -> int:
    from spark_edu.chapters.moe.expert_parallel_bench import format_report, run_expert_parallel_benchmark
    from spark_edu.results import write_atomic

    if args.device == "cuda":
        import torch

        if torch.cuda.device_count() < max(args.world_sizes):
            raise ValueError(
                f"--device cuda needs one GPU per rank: world size {max(args.world_sizes)}, "
                f"{torch.cuda.device_count()} GPU(s) here"
            )
    options = {name: getattr(args, name) for name in PARALLEL_HELP}
    result = run_expert_parallel_benchmark(
        world_sizes=tuple(args.world_sizes),
        capacity_factor=_capacity(args.capacity_factor),
        timeout_s=args.timeout_s,
        device=args.device,
        **options,
    )
    print(format_report(result))
    print(f"wall time {result['wall_s']:.1f} s (process start-up included)")
    if args.out:
        write_atomic(args.out, json.dumps(result, indent=1))
    return 0


def bench_command(result: dict, out: str | None = None) -> str:
    """The ``python -m spark_edu bench moe`` line that regenerates ``result``: the options whose
    value differs from the command's default, then ``--out out`` if given."""
    from spark_edu.chapters.moe.bench import BenchConfig

    defaults = asdict(BenchConfig())
    words = ["python -m spark_edu bench moe"]
    words += [f"--{k.replace('_', '-')} {v}" for k, v in result["config"].items() if v != defaults.get(k, v)]
    return " ".join(words + ([f"--out {out}"] if out else []))


def parallel_command(result: dict, out: str | None = None) -> str:
    """The ``python -m spark_edu bench moe-parallel`` line that regenerates ``result``: the options
    whose value differs from the command's default, then ``--out out`` if given."""
    from spark_edu.chapters.moe.expert_parallel_bench import ExpertParallelBenchConfig

    defaults, config = asdict(ExpertParallelBenchConfig()), result["config"]
    words = ["python -m spark_edu bench moe-parallel"]
    for name, value in config.items():
        default = defaults.get(name, value)  # a key this version does not know: not shown
        if name == "world_sizes":
            value, default = list(value), list(default)
        if value != default:
            shown = "none" if value is None else " ".join(map(str, value)) if isinstance(value, list) else value
            words.append(f"--{name.replace('_', '-')} {shown}")
    if out:
        words.append(f"--out {out}")
    return " ".join(words)


def run_parallel_in_subprocess(timeout_s: float = 600.0, **options) -> dict:
    """Run ``python -m spark_edu bench moe-parallel`` in a fresh interpreter; returns its JSON result.

    ``options`` are the command's options with underscores (``world_sizes=(1, 2), tokens=64``);
    the result gains ``"command"`` (what ran) and ``"subprocess_s"`` (its wall time). A failing
    command raises ``RuntimeError`` with the last lines it printed.
    """
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "expert_parallel.json"
        argv = ["bench", "moe-parallel"]
        for name, value in options.items():
            values = value if isinstance(value, list | tuple) else [value]
            argv += [f"--{name.replace('_', '-')}", *(str(v) for v in values)]
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "spark_edu", *argv, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0 or not out.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
            raise RuntimeError(f"python -m spark_edu {' '.join(argv)} failed (exit {done.returncode}): {tail}")
        result = json.loads(out.read_text())
    return {**result, "command": "python -m spark_edu " + " ".join(argv), "subprocess_s": seconds}


COMMANDS = {
    ("run", "moe"): Command(
        "modern routers side by side (expert choice, loss-free bias, shared expert, top-2 + Switch): "
        "learning rate tuned per method, seeds, intervals",
        configure_routers,
        run_routers,
    ),
    ("bench", "moe"): Command("time MoE dispatch paths (loop, sorted, dense) against the matmul peak", configure, run),
    ("bench", "moe-parallel"): Command(
        "time the expert-parallel MoE layer over W processes: routing, exchange, experts; bytes vs the cost model",
        configure_parallel,
        run_parallel,
    ),
}
