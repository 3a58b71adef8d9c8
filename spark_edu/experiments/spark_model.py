"""Experiments of the SPaR-K model chapter, and ``reproduce`` for its claims (spark.stats.*).

* :func:`train_run` trains one :class:`spark_edu.model.SparkTransformer` on the palindrome
  task (:mod:`spark_edu.tasks.palindromes`) with the original's budget settings (batch 8,
  lr 1e-3, AdamW with weight decay 0.01, clipping at 1), seeded; it records the loss, the
  pre-clipping gradient norms, held-out loss and accuracy on the predictable targets, and
  the FK series' error bound (eq-fk-bound) on the attention matrices the model really uses.
* :func:`ablation` runs every on/off combination of the three components and the
  size-matched standard transformer over seeds; :func:`summarize` gives means and 95%
  t-intervals; :func:`component_effects` the paired on − off differences.
* :func:`component_timings` times the book's own evaluations of the three components (each
  chapter's ``reproduce(quick=True)``) and :func:`components_improving` counts, from their
  measurements, the components whose improvement is above zero.
* ``python -m spark_edu.experiments.spark_model --workers 2`` runs the full ablation and the
  timings and writes ``book/data/spark_model/results.json``, which the chapter and
  ``reproduce(quick=True)`` read (``--timings-only`` re-times the component chapters alone).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from spark_edu.attention.dense import attention_weights
from spark_edu.claims import CLAIMS, Measurement
from spark_edu.fk_attention import FKAttention, path_series, resolvent, series_error_bound
from spark_edu.device import one_thread
from spark_edu.measure import mean_interval, time_it
from spark_edu.model import COMPONENTS, SparkConfig, SparkTransformer, build, matched_standard, original_breakdown, preset
from spark_edu.tasks.palindromes import PalindromeConfig, PalindromeData, make_dataset
from spark_edu.train import TrainConfig, train

DATA_DIR = Path(__file__).resolve().parents[2] / "book" / "data" / "spark_model"
RESULTS = DATA_DIR / "results.json"
STANDARD = "standard (size-matched)"
COMPONENT_CHAPTERS = {"fk": "fk_attention", "spd": "spd_router", "verifier": "verifier"}
# The original's "comprehensive" run evaluated all three components; its "quick" run the SPD router and the verifier.
SUITES = {"comprehensive": ("fk", "spd", "verifier"), "quick": ("spd", "verifier")}

# Two-sided 95% Student-t quantiles t_{0.975, df}.
def label(config: SparkConfig) -> str:
    """"FK+SPD+verifier", "FK", …, "none" (standard attention, no router, no verifier)."""
    names = {"fk": "FK", "spd": "SPD", "verifier": "verifier"}
    return "+".join(names[c] for c in COMPONENTS if config.uses(c)) or "none"


@dataclass(frozen=True)
class RunConfig:
    """The training budget; the original's settings except ``steps`` (it stopped after 18)."""

    steps: int = 400
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    evals: int = 4  # held-out evaluations during training (plus one at the end)
    n_test: int = 400  # held-out sequences (30% palindromes)
    data: PalindromeConfig = field(default_factory=PalindromeConfig)


def datasets(seed: int, run: RunConfig) -> tuple[PalindromeData, PalindromeData]:
    """Training set (the original's 800 sequences) and a held-out set, both from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return make_dataset(run.data, g), make_dataset(replace(run.data, n_sequences=run.n_test), g)


def next_token_loss(model: SparkTransformer, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over every target plus the original's auxiliary term (0.05 · Σ separation losses)."""
    logits = model(inputs)  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()) + model.auxiliary_loss()


@torch.no_grad()
def evaluate(model: SparkTransformer, data: PalindromeData, chunk: int = 200) -> dict[str, float]:
    """Held-out cross-entropy (all targets, no auxiliary term) and accuracy on predictable / other targets."""
    was_training = model.training
    model.eval()
    losses, right = [], []
    for i in range(0, len(data), chunk):
        logits = model(data.inputs[i:i + chunk])  # (b, T, V)
        losses.append(F.cross_entropy(logits.flatten(0, 1), data.targets[i:i + chunk].flatten(), reduction="sum"))
        right.append(logits.argmax(-1) == data.targets[i:i + chunk])  # (b, T)
    model.train(was_training)
    right = torch.cat(right)
    pred = data.predictable
    return {"loss": float(sum(losses)) / data.targets.numel(),
            "acc_predictable": float(right[pred].float().mean()),
            "acc_other": float(right[~pred].float().mean())}


@torch.no_grad()
def fk_bounds(model: SparkTransformer, inputs: torch.Tensor) -> dict[str, float] | None:
    """eq-fk-bound on the attention matrices of every FK layer for ``inputs``; None without FK.

    Returns ``q = |β|·max_i Σ_j A_ij`` (the series converges when q < 1), the bound on
    ``max|resolvent − series| / max|V|`` and the measured value of that ratio (worst layer).
    """
    captured = []
    hooks = [b.attn.register_forward_pre_hook(lambda m, args: captured.append((m, args[0])))
             for b in model.blocks if isinstance(b.attn, FKAttention)]
    if not hooks:
        return None
    try:
        model(inputs)
    finally:
        for h in hooks:
            h.remove()
    out = {"q": 0.0, "bound": 0.0, "error": 0.0}
    for attn, x in captured:
        B, T, C = x.shape
        H, c = attn.n_heads, attn.config
        q, k, v = (p(x).view(B, T, H, C // H).transpose(1, 2) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
        mask = torch.ones(T, T, dtype=torch.bool).tril() if c.causal else None  # (T, T)
        A = attention_weights(q, k, mask)  # (B, H, T, T)
        scale = float(v.abs().max())
        exact = resolvent(A, v, c.beta, triangular=c.causal)  # (B, H, T, D)
        series = path_series(A, v, c.beta, c.n_terms if c.n_terms is not None else 0)
        out["q"] = max(out["q"], abs(c.beta) * float(A.sum(-1).max()))
        out["bound"] = max(out["bound"], series_error_bound(A, v, c.beta, c.n_terms or 0) / scale)
        out["error"] = max(out["error"], float((exact - series).abs().max()) / scale)
    return out


@contextlib.contextmanager
def fast_cpu_training():
    """One thread, subnormal floats flushed to zero; both restored on exit.

    * One thread: the matrices here are tiny (width 128, 31 tokens, batch 8), and on a
      2-core machine shared with other jobs a second OpenMP thread mostly waits at barriers
      (a 248×128×512 product took 16 ms on 2 threads, 0.5 ms on 1, with one core busy).
    * Subnormals: the verifier's soft stack mixes each slot with push/pop/no-op strengths at
      every step, so old contents decay into subnormal numbers, which CPUs process many
      times slower (a SPaR-K training step was ~17× slower). Values below ~1e-38 become 0.
    """
    with one_thread():
        torch.set_flush_denormal(True)
        try:
            yield
        finally:
            torch.set_flush_denormal(False)


def train_run(config: SparkConfig, seed: int, run: RunConfig = RunConfig()) -> dict:
    """Train ``config`` from seed ``seed`` (in :func:`fast_cpu_training`); everything the chapter plots."""
    with fast_cpu_training():
        return _train_run(config, seed, run)


def _train_run(config: SparkConfig, seed: int, run: RunConfig) -> dict:
    train_set, test_set = datasets(seed, run)
    model = build(config, seed)
    every = max(1, run.steps // run.evals)
    curve, bounds, calls = [], [], [0]
    probe = test_set.inputs[:8]

    def make_batch(g: torch.Generator):
        idx = torch.randint(0, len(train_set), (run.batch_size,), generator=g)  # sampled with replacement
        return train_set.inputs[idx], train_set.targets[idx]

    def loss_fn(m, batch):
        if calls[0] % every == 0:  # monitor with the weights of this step, before it updates them
            curve.append({"step": calls[0], **evaluate(m, test_set)})
            b = fk_bounds(m, probe)
            if b is not None:
                bounds.append({"step": calls[0], **b})
        calls[0] += 1
        return next_token_loss(m, *batch)

    tc = TrainConfig(steps=run.steps, lr=run.lr, weight_decay=run.weight_decay, grad_clip=run.grad_clip, seed=seed)
    start = time.perf_counter()
    history = train(model, make_batch, loss_fn, tc, desc=label(config))
    seconds = time.perf_counter() - start
    final = evaluate(model, test_set)
    curve.append({"step": run.steps, **final})
    b = fk_bounds(model, probe)
    if b is not None:
        bounds.append({"step": run.steps, **b})
    return {"label": label(config), "components": list(config.components), "d_ff": config.d_ff, "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()), "losses": history.losses,
            "grad_norms": history.grad_norms, "curve": curve, "fk_bounds": bounds, "final": final,
            "seconds_per_step": seconds / run.steps}


def ablation_configs(base: SparkConfig) -> dict[str, SparkConfig]:
    """All 8 on/off combinations of the components, plus the size-matched standard transformer."""
    configs = {}
    for mask in range(2 ** len(COMPONENTS) - 1, -1, -1):
        cfg = base.with_components(*[c for i, c in enumerate(COMPONENTS) if mask >> (len(COMPONENTS) - 1 - i) & 1])
        configs[label(cfg)] = cfg
    configs[STANDARD] = matched_standard(base.with_components(*COMPONENTS))
    return configs


def _job(args) -> dict:
    config, seed, run, name = args
    with one_thread():
        return {**train_run(config, seed, run), "label": name}


def ablation(base: SparkConfig = preset("original"), seeds=(0, 1, 2), run: RunConfig = RunConfig(),
             names: tuple[str, ...] | None = None, workers: int = 1) -> list[dict]:
    """One :func:`train_run` record per (configuration, seed); ``names`` picks configurations.

    ``workers > 1`` trains that many runs at once in separate processes (one thread each);
    every run is seeded on its own, so the records do not depend on the order.
    """
    configs = ablation_configs(base)
    if names is not None:
        unknown = [n for n in names if n not in configs]
        if unknown:
            raise ValueError(f"names must be among {list(configs)}, got {unknown}")
        configs = {n: configs[n] for n in names}
    jobs = [(cfg, seed, run, name) for name, cfg in configs.items() for seed in seeds]
    if workers <= 1:
        return [{**train_run(cfg, seed, run), "label": name} for cfg, seed, run, name in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_job, jobs))


def summarize(records: list[dict], metric: str = "acc_predictable") -> dict[str, tuple[float, float, float]]:
    """Per configuration label: mean and 95% interval over seeds of a final held-out metric."""
    groups: dict[str, list[float]] = {}
    for r in records:
        groups.setdefault(r["label"], []).append(r["final"][metric])
    bounds = (0.0, 1.0) if metric.startswith("acc") else (0.0, math.inf)
    return {k: mean_interval(v, *bounds) for k, v in groups.items()}


def component_effects(records: list[dict], metric: str = "acc_predictable") -> dict[str, tuple[float, float, float]]:
    """Per component: the mean over seeds and the other components' settings of (on − off), with its interval.

    Pairs are taken within a seed (same data, same batches), so the interval is over the
    per-seed mean differences.
    """
    by = {(tuple(sorted(r["components"])), r["seed"]): r["final"][metric] for r in records if r["label"] != STANDARD}
    seeds = sorted({s for _, s in by})
    effects = {}
    for comp in COMPONENTS:
        per_seed = []
        for s in seeds:
            diffs = [v - by[(tuple(sorted(set(k) - {comp})), s)] for (k, seed), v in by.items()
                     if seed == s and comp in k and (tuple(sorted(set(k) - {comp})), s) in by]
            if diffs:
                per_seed.append(statistics.fmean(diffs))
        if per_seed:
            effects[comp] = mean_interval(per_seed)
    return effects


def training_stability(records: list[dict]) -> dict[str, float | bool]:
    """No explosion: every loss and gradient norm finite, the largest pre-clipping gradient norm
    within 10× the run's median, and the FK series ratio q < 1 at every check."""
    ratios = [max(r["grad_norms"]) / statistics.median(r["grad_norms"]) for r in records]
    finite = all(math.isfinite(x) for r in records for x in r["losses"] + r["grad_norms"])
    qs = [b["q"] for r in records for b in r["fk_bounds"]]
    q_max = max(qs) if qs else float("nan")
    return {"finite": finite, "max_grad_ratio": max(ratios), "max_grad_norm": max(max(r["grad_norms"]) for r in records),
            "q_max": q_max, "stable": finite and max(ratios) <= 10 and (not qs or q_max < 1)}


def gradients_reach_components(config: SparkConfig = preset("original"), seed: int = 0) -> dict[str, bool]:
    """One backward of :func:`next_token_loss` on a batch: the fraction of each component's
    parameters that receive a non-zero gradient."""
    model = build(config, seed)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, config.vocab_size, (8, min(32, config.max_len) + 1), generator=g)  # (8, T+1)
    next_token_loss(model, tokens[:, :-1], tokens[:, 1:]).backward()
    parts = {"fk": [b.attn for b in model.blocks], "spd": [b.spd for b in model.blocks],
             "verifier": [b.verifier for b in model.blocks] + [b.verifier_out for b in model.blocks]}
    out = {}
    for comp in COMPONENTS:
        if config.uses(comp):
            params = [p for m in parts[comp] for p in m.parameters()]
            reached = sum(p.numel() for p in params if p.grad is not None and bool(p.grad.abs().sum() > 0))
            out[comp] = reached / sum(p.numel() for p in params)  # fraction of the component's parameters
    return out


# --- the component chapters' evaluations ------------------------------------------------------
def component_timings(components=COMPONENTS) -> dict[str, dict]:
    """Time each component chapter's ``reproduce(quick=True)`` once; keep its measurements.

    A chapter whose experiment module does not exist yet gets ``{"seconds": None}``.
    """
    out = {}
    for comp in components:
        name = f"spark_edu.experiments.{COMPONENT_CHAPTERS[comp]}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            out[comp] = {"seconds": None, "measurements": []}
            continue
        result, threads = [], torch.get_num_threads()
        try:
            timing = time_it(lambda: result.append(module.reproduce(quick=True)), repeats=1, warmup=0)
        finally:
            torch.set_num_threads(threads)  # a chapter may change it for its own runs
        out[comp] = {"seconds": timing.median_s, "threads": threads, "load_average": os.getloadavg(),
                     "measurements": [{"key": m.key, "value": m.value, "low": m.low, "high": m.high} for m in result[-1]]}
    return out


def _improves(m: dict) -> bool:
    low = m["low"] if m["low"] is not None else m["value"]
    return m["value"] is not None and float(low) > 0


def components_improving(timings: dict[str, dict]) -> dict[str, bool | None]:
    """Which components show an improvement, read from their chapters' measurements.

    FK: ``spark.fk.improvement`` (FK − standard accuracy) with its whole interval above 0.
    SPD: an ``spark.spd.snr.*`` (output-SNR gain, dB) with its whole interval above 0 at
    some noise level (the report's own criterion: "at high noise only").
    Verifier: ``spark.verifier.improvement`` (verifier − standard) with its whole range above 0.
    None where the chapter's measurements are missing.
    """
    keys = {"fk": lambda k: k == "spark.fk.improvement", "spd": lambda k: k.startswith("spark.spd.snr."),
            "verifier": lambda k: k == "spark.verifier.improvement"}
    out = {}
    for comp in COMPONENTS:
        ms = [m for m in timings.get(comp, {}).get("measurements", []) if keys[comp](m["key"])]
        out[comp] = any(_improves(m) for m in ms) if ms else None
    return out


def suite_seconds(timings: dict[str, dict]) -> dict[str, float | None]:
    """Seconds for the book's versions of the original's two runs (None if a part is missing)."""
    out = {}
    for suite, comps in SUITES.items():
        parts = [timings.get(c, {}).get("seconds") for c in comps]
        out[suite] = None if any(p is None for p in parts) else sum(parts)
    return out


# --- saved results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FullRun:
    seeds: tuple[int, ...] = (0, 1, 2)
    run: RunConfig = RunConfig(steps=300, evals=3)


QUICK = FullRun(seeds=(0, 1), run=RunConfig(steps=150, evals=3, n_test=200))


def full_run(spec: FullRun = FullRun(), timings: bool = True, workers: int = 1) -> dict:
    """The ablation at ``spec`` and (optionally) the component timings: what ``results.json`` holds."""
    started = time.perf_counter()
    records = ablation(preset("original"), spec.seeds, spec.run, workers=workers)
    out = {"spec": asdict(spec), "records": records, "ablation_seconds": time.perf_counter() - started,
           "workers": workers, "load_average": os.getloadavg()}
    if timings:
        out["timings"] = component_timings()
    return out


def compact(results: dict) -> dict:
    """Round the per-step series to 5 significant digits (a file a fifth of the size)."""
    for r in results["records"]:
        for key in ("losses", "grad_norms"):
            r[key] = [float(f"{x:.5g}") for x in r[key]]
    return results


def load_results(path: Path | str = RESULTS) -> dict | None:
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def main(argv=None) -> int:
    """``python -m spark_edu.experiments.spark_model [--quick] [--workers N] [--no-timings | --timings-only]``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds × 150 steps instead of 3 × 300")
    parser.add_argument("--workers", type=int, default=1, help="training runs at once (one thread each)")
    parser.add_argument("--no-timings", action="store_true", help="skip timing the component chapters")
    parser.add_argument("--timings-only", action="store_true", help="re-time the component chapters only, "
                        "keeping the saved ablation")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    path = args.out / "results.json"
    if args.timings_only:
        results = load_results(path)
        if results is None:
            parser.error(f"--timings-only needs an existing {path}")
        results["timings"] = component_timings()
    else:
        results = full_run(QUICK if args.quick else FullRun(), timings=not args.no_timings, workers=args.workers)
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(compact(results), indent=0))
    for name, (m, lo, hi) in summarize(results["records"]).items():
        print(f"{name:<26} accuracy on the predictable part {m:.3f} [{lo:.3f}, {hi:.3f}]")
    for comp, t in results.get("timings", {}).items():
        print(f"{comp:<9} evaluation: {t['seconds']} s")
    print("wrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# --- the claims -------------------------------------------------------------------------------
def _timing_measurements(timings: dict | None, source: str) -> list[Measurement]:
    seconds = suite_seconds(timings or {})
    out = []
    for suite, key in (("comprehensive", "spark.stats.eval_time_comprehensive"), ("quick", "spark.stats.eval_time_quick")):
        parts = " + ".join(COMPONENT_CHAPTERS[c] for c in SUITES[suite])
        if timings is None:
            out.append(Measurement(key, None, as_stated=False, reason="the component chapters were not timed in this run"))
            continue
        if seconds[suite] is None:
            missing = [COMPONENT_CHAPTERS[c] for c in SUITES[suite] if (timings or {}).get(c, {}).get("seconds") is None]
            out.append(Measurement(key, None, as_stated=False, reason=f"not timed: no experiments module yet for {missing}"))
            continue
        ratio = seconds[suite] / float(CLAIMS[key].claimed)
        out.append(Measurement(key, round(seconds[suite], 1), reason=(
            f"the book's own {parts} evaluations (each chapter's reproduce(quick=True), seeded), "
            f"{timings[SUITES[suite][0]].get('threads', '?')} threads, {source}; ratio to the report: {ratio:.2f}"),
            details={"ratio": ratio, "parts": {c: timings[c]["seconds"] for c in SUITES[suite]}}))
    return out


def measurements(results: dict, source: str) -> list[Measurement]:
    """One Measurement per spark.stats.* claim from saved or fresh ``results`` (see :func:`full_run`)."""
    records = results["records"]
    config = preset("original")
    model = build(config, 0)
    ours = sum(p.numel() for p in model.parameters())
    full = [r for r in records if r["label"] == label(config)]
    stability = training_stability(full)
    overall = training_stability(records)
    worst = max(records, key=lambda r: max(r["grad_norms"]) / statistics.median(r["grad_norms"]))
    reach = gradients_reach_components(config)
    falls = all(r["final"]["loss"] < r["curve"][0]["loss"] for r in full)
    improving = components_improving(results.get("timings", {}))
    out = _timing_measurements(results.get("timings"), source)
    out.append(Measurement("spark.stats.parameters", original_breakdown()["total"], reason=(
        f"the original's modules recounted from their shapes; this book's assembly of the same configuration "
        f"has {ours:,} (its verifier head is smaller, see the parameter table)"), details={"ours": ours}))
    out.append(Measurement("spark.stats.layers", len(model.blocks)))
    out.append(Measurement("spark.stats.d_model", model.config.d_model))
    out.append(Measurement("spark.stats.heads", model.blocks[0].attn.n_heads))
    out.append(Measurement("spark.stats.stable_training", stability["stable"], reason=(
        f"the SPaR-K preset, {len(full)} seeds, {source}: losses finite, largest pre-clipping gradient norm "
        f"{stability['max_grad_ratio']:.1f}× its run's median, FK series ratio q ≤ {stability['q_max']:.3f} < 1; "
        f"over all {len(records)} ablation runs the largest spike is {overall['max_grad_ratio']:.0f}× "
        f"(configuration {worst['label']}, seed {worst['seed']}), absorbed by clipping at 1"),
        details={"preset": stability, "all_runs": overall}))
    acc = summarize(records)
    out.append(Measurement(
        "spark.stats.components_integrate", falls and stability["stable"] and min(reach.values()) > 0.8, as_stated=False,
        reason=(f"the original printed this line unconditionally (its status list [1, 1, 1, 1] is typed in); measured "
                f"here: gradient reaches {', '.join(f'{k} {v:.0%}' for k, v in reach.items())} of each component's "
                f"parameters and the held-out loss falls in every seed, yet on the predictable part the preset reaches "
                f"{acc[label(config)][0]:.3f} against {acc['none'][0]:.3f} with all three components off"
                if "none" in acc else "the original printed this line unconditionally"),
        details={"reach": reach, "loss_falls": falls}))
    if None in improving.values():
        missing = [COMPONENT_CHAPTERS[c] for c, v in improving.items() if v is None]
        out.append(Measurement("spark.stats.components_improving", None, as_stated=False,
                               reason=f"needs the measurements of {missing}, not available"))
    else:
        count = sum(improving.values())
        which = ", ".join(c for c, v in improving.items() if v) or "none"
        out.append(Measurement("spark.stats.components_improving", count, reason=(
            f"counted from the component chapters' measurements (interval above 0): {which}"), details=improving))
    order = [c.key for c in CLAIMS.values() if c.chapter == "spark_model"]
    return sorted(out, key=lambda m: order.index(m.key))


def reproduce(quick: bool = False) -> list[Measurement]:
    """The report's "Statistical Analysis" rows.

    ``quick=True`` reads ``book/data/spark_model/results.json`` (written by ``python -m
    spark_edu.experiments.spark_model``: the ablation and the component timings, which take
    minutes) when it exists, else trains the quick ablation without timings; ``quick=False``
    runs the full ablation and times the component chapters now.
    """
    if quick:
        results = load_results()
        if results is not None:
            return measurements(results, "saved results of `python -m spark_edu.experiments.spark_model`")
        return measurements(full_run(QUICK, timings=False), "quick ablation run now")
    return measurements(full_run(FullRun()), "full run now")


# --- figures ----------------------------------------------------------------------------------
def _moving_average(values: list[float], window: int = 25) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def _by_label(records: list[dict], name: str) -> list[dict]:
    return [r for r in records if r["label"] == name]


def plot_training(records: list[dict], names=("FK+SPD+verifier", "SPD", STANDARD)):
    """Training loss, held-out accuracy on the predictable part, gradient norms and the FK bound."""
    from spark_edu.plots import COLORS, subplots

    fig, axes = subplots(1, 4, width=3.1, height=2.8)
    palette = [COLORS["fk"], COLORS["sparse"], COLORS["baseline"], COLORS["verifier"]]
    colors = {n: palette[i % len(palette)] for i, n in enumerate(names[:-1])} | {names[-1]: COLORS["standard"]}
    for name in names:
        runs = _by_label(records, name)
        if not runs:
            continue
        c = colors.get(name, None)
        steps = range(len(runs[0]["losses"]))
        mean_loss = [statistics.fmean(v) for v in zip(*(_moving_average(r["losses"]) for r in runs))]
        axes[0, 0].plot(steps, mean_loss, color=c, label=name)
        xs = [p["step"] for p in runs[0]["curve"]]
        accs = [[r["curve"][i]["acc_predictable"] for r in runs] for i in range(len(xs))]
        m = [statistics.fmean(a) for a in accs]
        axes[0, 1].plot(xs, m, "o-", color=c, ms=3)
        axes[0, 1].fill_between(xs, [min(a) for a in accs], [max(a) for a in accs], color=c, alpha=0.2)
        for r in runs:
            axes[0, 2].plot(steps, r["grad_norms"], color=c, lw=0.6, alpha=0.7)
        if runs[0]["fk_bounds"]:
            bx = [b["step"] for b in runs[0]["fk_bounds"]]
            axes[0, 3].semilogy(bx, [max(r["fk_bounds"][i]["bound"] for r in runs) for i in range(len(bx))],
                                "--", color="k", label="bound (eq-fk-bound)")
            axes[0, 3].semilogy(bx, [max(r["fk_bounds"][i]["error"] for r in runs) for i in range(len(bx))],
                                "o-", color=c, ms=3, label="measured")
    axes[0, 0].set(title="training loss (moving avg.)", xlabel="step", ylabel="cross-entropy")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].set(title="held-out accuracy,\nsecond halves of palindromes", xlabel="step", ylim=(0, 1.02))
    axes[0, 2].axhline(1.0, color="grey", ls=":", lw=1)
    axes[0, 2].set(title="gradient norm before clipping", xlabel="step", yscale="log")
    axes[0, 3].set(title="FK: 5-term series error / max|V|", xlabel="step")
    axes[0, 3].legend(fontsize=7)
    return fig


def plot_ablation(records: list[dict], ax=None):
    """Held-out accuracy on the predictable part per configuration: mean and 95% interval over seeds."""
    from spark_edu.plots import COLORS, subplots

    if ax is None:
        fig, axes = subplots(1, 1, width=7.0, height=3.0)
        ax = axes[0, 0]
    summary = summarize(records)
    names = list(summary)
    means = [summary[n][0] for n in names]
    errs = [[summary[n][0] - summary[n][1] for n in names], [summary[n][2] - summary[n][0] for n in names]]
    colors = [COLORS["standard"] if n in ("none", STANDARD) else COLORS["fk"] for n in names]
    ax.bar(range(len(names)), means, yerr=errs, color=colors, capsize=3)
    for r in records:
        ax.plot(names.index(r["label"]), r["final"]["acc_predictable"], "k.", ms=3)
    ax.set_xticks(range(len(names)), [n.replace("+", "+\n").replace(" (", "\n(") for n in names], fontsize=7)
    ax.set(ylabel="accuracy", ylim=(0, 1.02), title="accuracy on the predictable part (mean, 95% interval, seeds)")
    return ax.figure


def render(fk: bool = True, spd: bool = True, verifier: bool = True, results: dict | None = None, live_steps: int = 3):
    """Widget view: parameters, time per training step and accuracy of the chosen on/off setting.

    Parameters are counted live. Time per step is timed live for the chosen setting (median
    of ``live_steps`` steps at the original's batch, one thread) beside the times saved by the
    full run (one thread per worker, monitoring evaluations included);
    accuracy comes from the saved results (training each setting takes minutes).
    """
    from spark_edu.plots import COLORS, subplots

    results = load_results() if results is None else results
    chosen = preset("original").with_components(*[c for c, on in zip(COMPONENTS, (fk, spd, verifier)) if on])
    configs = {n: c for n, c in ablation_configs(preset("original")).items() if n != STANDARD}
    name = label(chosen)
    model = build(chosen, 0)
    train_set, _ = datasets(0, RunConfig(n_test=1))
    x, y = train_set.inputs[:8], train_set.targets[:8]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        loss = next_token_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    with fast_cpu_training():
        live_ms = time_it(step, repeats=live_steps, warmup=1).median_ms
    names = list(configs)
    params = [sum(p.numel() for p in SparkTransformer(c).parameters()) for c in configs.values()]
    records = results["records"] if results else []
    saved_ms = {n: 1e3 * statistics.fmean(r["seconds_per_step"] for r in _by_label(records, n)) for n in names
                if _by_label(records, n)}
    summary = summarize(records) if records else {}
    fig, axes = subplots(1, 3, width=3.2, height=3.0)
    colors = [COLORS["verifier"] if n == name else "lightgrey" for n in names]
    ticks = [n.replace("+", "+\n") for n in names]
    axes[0, 0].barh(range(len(names)), [p / 1e3 for p in params], color=colors)
    axes[0, 0].set(title=f"parameters: {params[names.index(name)]:,}", xlabel="thousands")
    axes[0, 0].set_yticks(range(len(names)), ticks, fontsize=7)
    axes[0, 1].barh(range(len(names)), [saved_ms.get(n, 0) for n in names], color=colors)
    axes[0, 1].plot([live_ms], [names.index(name)], "kD", label="timed now")
    axes[0, 1].set(title=f"ms per step (now: {live_ms:.0f})", xlabel="saved full run / now")
    axes[0, 1].set_yticks(range(len(names)), [""] * len(names))
    axes[0, 1].legend(fontsize=7, loc="upper right")
    if summary:
        m = [summary.get(n, (0, 0, 0)) for n in names]
        axes[0, 2].barh(range(len(names)), [v[0] for v in m], color=colors,
                        xerr=[[v[0] - v[1] for v in m], [v[2] - v[0] for v in m]], capsize=2)
        axes[0, 2].set(title=f"accuracy (saved): {summary[name][0]:.2f}", xlim=(0, 1))
    else:
        axes[0, 2].text(0.5, 0.5, "no saved results", ha="center", transform=axes[0, 2].transAxes)
    axes[0, 2].set_yticks(range(len(names)), [""] * len(names))
    return fig
