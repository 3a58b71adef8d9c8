"""``bench spark``: the SPaR-K training step of this tree against a baseline tree, side by side.

Two versions of ``spark_edu`` cannot be imported into one process, so each side runs in its
own worker process (:mod:`~spark_edu.chapters.spark_model.step_worker`, started with
``PYTHONPATH`` set to its tree). The workers take turns: in every round one times ``steps``
training steps while the other waits on its input, then the other does, the order
alternating between rounds (as :func:`spark_edu.measure.paired_times` does inside one
process). A round's time is the median of its steps; :func:`spark_edu.measure.paired_ratio`
turns the rounds into ``baseline / candidate`` ratios, median and IQR, for each thread count.

Before timing, both workers write the first step's loss, logits and gradients and the weights
after three steps, from the same seed; :func:`compare_checks` reports how far apart they are
(max |difference| relative to the largest |value| of each tensor), so a speed-up that changed
the numbers shows. Per-component times (forward + backward of the SPD routers, the FK
attentions, the verifier heads, the MLPs, summed over the layers; the clipped AdamW step;
the whole step) come from the same alternation.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from importlib import resources
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from spark_edu.device import cpu_capability, threads
from spark_edu.measure import paired_ratio
from spark_edu.validation import check_positive_int

WORKER = str(resources.files(__package__) / "step_worker.py")
_RUN_WORKER = "import runpy, sys; runpy.run_path(sys.argv[1])['main'](sys.argv[2])"
BENCH = "step_bench.json"  # the saved file's name in the chapter's data folder
BASELINE_COMMIT = "d62f282"  # the commit the issue measures against


@dataclass(frozen=True)
class StepBenchConfig:
    baseline_tree: str  # a checkout of the baseline (``git worktree add ../base d62f282``)
    candidate_tree: str  # this tree by default
    threads: tuple[int, ...] = (1, 2)  # 1: how the chapter trains; 2: torch's default here
    rounds: int = 9  # paired rounds per thread count
    steps: int = 5  # training steps per round (its median is the round's time)
    component_rounds: int = 3  # paired rounds of the per-component timing
    component_repeats: int = 5  # calls per component per round (median)

    def __post_init__(self):
        for tree in (self.baseline_tree, self.candidate_tree):
            if not (Path(tree) / "spark_edu" / "__init__.py").is_file():
                raise ValueError(f"{tree!r} is not a source tree: it has no spark_edu/__init__.py")
        if not self.threads:
            raise ValueError("threads must list at least one thread count")
        for n in self.threads:
            check_positive_int("threads", n)
        check_positive_int("rounds", self.rounds)
        check_positive_int("steps", self.steps)
        check_positive_int("component_rounds", self.component_rounds, minimum=0)
        check_positive_int("component_repeats", self.component_repeats)


class _Worker:
    """A worker process on one tree: ``ask(command) -> reply``, one JSON line each way."""

    def __init__(self, tree: str, check_file: Path):
        env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve()), "SPARK_EDU_QUIET": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", _RUN_WORKER, WORKER, str(check_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.package = self._read()["ready"]
        if not Path(self.package).resolve().is_relative_to(Path(tree).resolve()):
            self.close()
            raise RuntimeError(f"the worker for {tree} imported spark_edu from {self.package}")

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the step worker stopped (exit {self.process.wait()}); see its error above")
        return json.loads(line)

    def ask(self, **command) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"quit": True}) + "\n")
            self.process.stdin.close()
        self.process.wait(timeout=60)


def compare_checks(baseline: dict, candidate: dict) -> dict[str, float]:
    """Largest ``max|a − b| / max|a|`` over the tensors of each kind; ``initial`` must be 0."""

    def worst(a: dict, b: dict) -> float:
        if a.keys() != b.keys():
            raise ValueError(f"the two trees' tensors differ in names: {sorted(a.keys() ^ b.keys())}")
        return max(float((a[k] - b[k]).abs().max()) / max(float(a[k].abs().max()), 1e-30) for k in a)

    return {
        "initial": worst(baseline["initial"], candidate["initial"]),
        "loss": worst({"loss": baseline["loss"]}, {"loss": candidate["loss"]}),
        "logits": worst({"logits": baseline["logits"]}, {"logits": candidate["logits"]}),
        "grads": worst(baseline["grads"], candidate["grads"]),
        "after_3_steps": worst(baseline["after"], candidate["after"]),
    }


def _commit(tree: str) -> str | None:
    done = subprocess.run(["git", "-C", tree, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return done.stdout.strip() or None


def _alternate(workers: dict, rounds: int, **command) -> list[dict[str, dict]]:
    """``rounds`` replies from every worker, the order reversed on odd rounds."""
    names, replies = list(workers), []
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        replies.append({name: workers[name].ask(**command) for name in order})
    return replies


def run_step_bench(config: StepBenchConfig, progress=print) -> dict:
    """Time both trees' training steps, interleaved; returns what ``step_bench.json`` holds."""
    with tempfile.TemporaryDirectory() as folder:
        checks = {name: Path(folder) / f"{name}.pt" for name in ("baseline", "candidate")}
        trees = {"baseline": config.baseline_tree, "candidate": config.candidate_tree}
        workers = {}
        try:
            for name, tree in trees.items():
                workers[name] = _Worker(tree, checks[name])
            agreement = compare_checks(*(torch.load(checks[n], weights_only=True) for n in ("baseline", "candidate")))
            load_before = os.getloadavg()
            by_threads = {}
            for n in config.threads:
                progress(f"{n} thread(s): {config.rounds} rounds of {config.steps} steps per side")
                _alternate(workers, 1, threads=n, steps=config.steps)  # warm-up round, not kept
                rounds = _alternate(workers, config.rounds, threads=n, steps=config.steps)
                times = {name: [statistics.median(r[name]["seconds"]) for r in rounds] for name in workers}
                components = _alternate(
                    workers, config.component_rounds, threads=n, components=config.component_repeats
                )
                with threads(n):
                    ratio = paired_ratio(times, "baseline", "candidate")
                by_threads[str(n)] = {
                    "ratio": asdict(ratio),
                    "seconds": times,
                    "components": _component_table(components),
                }
            packages = {name: w.package for name, w in workers.items()}
        finally:
            for w in workers.values():
                w.close()
    return {
        "config": asdict(config),
        "commits": {name: _commit(tree) for name, tree in trees.items()},
        "packages": packages,
        "agreement": agreement,
        "threads": by_threads,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "environment": {
            "torch": torch.__version__,
            "cpu_capability": cpu_capability(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
    }


def _component_table(replies: list[dict[str, dict]]) -> dict[str, dict[str, float]]:
    """Per component: each side's median ms over the rounds and the median per-round ratio."""
    if not replies:
        return {}
    return {
        part: {
            "baseline_ms": statistics.median(1e3 * r["baseline"][part] for r in replies),
            "candidate_ms": statistics.median(1e3 * r["candidate"][part] for r in replies),
            "ratio": statistics.median(r["baseline"][part] / r["candidate"][part] for r in replies),
        }
        for part in replies[0]["baseline"]
    }


def format_report(result: dict) -> str:
    """The benchmark as text: agreement, then per thread count the ratio and the components."""
    commits = result["commits"]
    lines = [
        f"baseline {commits['baseline']} ({result['packages']['baseline']})",
        f"candidate {commits['candidate']} ({result['packages']['candidate']})",
        "agreement (max |difference| / max |value|): "
        + ", ".join(f"{k} {v:.1e}" for k, v in result["agreement"].items()),
    ]
    for n, entry in result["threads"].items():
        r = entry["ratio"]
        lines.append(
            f"{n} thread(s): step {r['baseline_ms']:.1f} ms -> {r['candidate_ms']:.1f} ms, "
            f"{r['median']:.2f}x (IQR {r['q1']:.2f}–{r['q3']:.2f}, {r['rounds']} rounds)"
        )
        for part, c in entry["components"].items():
            lines.append(f"    {part:<10} {c['baseline_ms']:7.2f} ms -> {c['candidate_ms']:7.2f} ms  {c['ratio']:.2f}x")
    load = result["load_average"]
    lines.append(
        "load average before "
        + ", ".join(f"{x:.2f}" for x in load["before"])
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load["after"])
    )
    return "\n".join(lines)
