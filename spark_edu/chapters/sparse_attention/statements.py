"""The modular report's statements about attention patterns, each judged from measured numbers.

One pure function per statement (criteria in :mod:`spark_edu.claims.statements`); each takes
plain numbers and returns a :class:`~spark_edu.claims.Measurement` whose value says whether the
criterion holds:

* patterns trained over seeds (:mod:`.pattern_seeds`): :func:`local_balance` (accuracy against
  step time; interpretability has no measurement) and :func:`random_stability` (kept elements,
  seed-to-seed spread of held-out loss);
* the saved kernel benchmark at L = 4096 (:mod:`.bench`; :func:`fastest_by_pattern`):
  :func:`block_hardware` (fraction of the tile bound) and :func:`complexity_sparse` (time against
  1 − sparsity);
* time and memory against length (:mod:`.length_scaling`): :func:`complexity_dense`,
  :func:`scaling_linear`, :func:`scaling_memory`;
* the fair study's step cost at T = 1024 and 2048 (:mod:`.fair_cost`): :func:`longer_sequences`.

Exponents are least-squares slopes on log–log axes, fitted to median times; their interquartile
range comes from fitting each timing round alone.
"""

from __future__ import annotations

import random
import statistics

from spark_edu.chapters.attention_from_scratch.experiments import loglog_slope
from spark_edu.claims import Measurement
from spark_edu.measure import mean_interval

REPORT_PATTERNS = ("local60", "random80", "block70")  # the report's three sparse patterns


def _quartiles(values) -> tuple[float, float, float]:
    values = list(values)
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q2, q1, q3


def _exponent(lengths, seconds_by_length) -> tuple[float, float, float]:
    """Slope of log median time against log n, and the IQR of the per-round slopes."""
    medians = [statistics.median(s) for s in seconds_by_length]
    rounds = min(len(s) for s in seconds_by_length)
    per_round = [loglog_slope(lengths, [s[r] for s in seconds_by_length]) for r in range(rounds)]
    _, q1, q3 = _quartiles(per_round)
    return loglog_slope(lengths, medians), q1, q3


def _sd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def sd_interval(values, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Sample standard deviation over seeds and its 95% percentile bootstrap interval."""
    values = [float(v) for v in values]
    if len(values) < 2:
        raise ValueError(f"a standard deviation needs at least two values, got {len(values)}")
    rng = random.Random(seed)
    boot = sorted(_sd(rng.choices(values, k=len(values))) for _ in range(n_resamples))
    return statistics.stdev(values), boot[int(0.025 * n_resamples)], boot[int(0.975 * n_resamples) - 1]


def _range(values, fmt=".2f") -> str:
    return f"{values[0]:{fmt}}→{values[-1]:{fmt}}"


# --- trained patterns ---------------------------------------------------------------------------


def local_balance(accuracy: dict[str, list[float]], step_ratio: dict[str, tuple], local: str = "local60"):
    """Not settled as stated (interpretability); beside it, accuracy [95% t-interval over seeds]
    and training-step time / dense (median [IQR]) per pattern, and whether ``local`` is on their
    front (no pattern at least as accurate on average and at most as slow, better in one)."""
    acc = {p: mean_interval(v, 0.0, 1.0) for p, v in accuracy.items()}
    dominated_by = [
        p
        for p in acc
        if p != local
        and acc[p][0] >= acc[local][0]
        and step_ratio[p][0] <= step_ratio[local][0]
        and (acc[p][0] > acc[local][0] or step_ratio[p][0] < step_ratio[local][0])
    ]
    parts = [
        f"{p} acc {a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}] at {step_ratio[p][0]:.2f}x "
        f"[{step_ratio[p][1]:.2f}–{step_ratio[p][2]:.2f}] dense step time"
        for p, a in acc.items()
    ]
    front = "on the accuracy–time front" if not dominated_by else f"dominated by {', '.join(dominated_by)}"
    n = len(next(iter(accuracy.values())))
    reason = (
        f"interpretability has no measurement; measured beside it over {n} seeds: "
        + "; ".join(parts)
        + f"; {local} is {front}"
    )
    details = {"accuracy": acc, "step_ratio": step_ratio, "local_on_front": not dominated_by}
    return Measurement("modular.finding.local_balance", None, as_stated=False, reason=reason, details=details)


def random_stability(kept: dict[str, float], losses: dict[str, list[float]], random_name: str = "random80"):
    """Holds if ``random_name`` keeps the fewest elements of :data:`REPORT_PATTERNS` and its SD of
    final held-out loss over ≥ 5 seeds is the largest of those three patterns (the criterion's
    scope: the report compares its sparsity patterns; a dense model, when trained, is shown beside)."""
    if any(len(v) < 5 for v in losses.values()):
        raise ValueError("the criterion needs at least 5 seeds per pattern")
    fewest = min(REPORT_PATTERNS, key=lambda p: kept[p])
    sd = {p: sd_interval(v) for p, v in losses.items()}
    widest = max(REPORT_PATTERNS, key=lambda p: sd[p][0])
    holds = fewest == random_name and widest == random_name
    kept_text = ", ".join(f"{p} {kept[p]:.1%}" for p in REPORT_PATTERNS)
    ranked = sorted(REPORT_PATTERNS, key=lambda p: -sd[p][0])
    sd_text = ", ".join(f"{p} {sd[p][0]:.3f} [{sd[p][1]:.3f}, {sd[p][2]:.3f}]" for p in ranked)
    apart = sd[widest][1] > max(sd[p][2] for p in REPORT_PATTERNS if p != widest)
    n = len(losses[random_name])
    reason = (
        f"kept elements {kept_text}: {fewest} keeps the fewest; SD of final held-out loss over {n} seeds "
        f"[95% bootstrap]: {sd_text}; the largest of the three is {widest}'s"
        f"{'' if apart else ', though the three intervals overlap'}"
    )
    beside = [p for p in sd if p not in REPORT_PATTERNS]
    if beside:
        reason += "; beside them " + ", ".join(f"{p} {sd[p][0]:.3f} [{sd[p][1]:.3f}, {sd[p][2]:.3f}]" for p in beside)
    details = {"kept": kept, "sd": sd, "fewest": fewest, "widest": widest, "apart": apart}
    return Measurement("modular.finding.random_stability", holds, reason=reason, details=details)


# --- the kernel benchmark at one length ------------------------------------------------------------


def fastest_by_pattern(rows, length: int = 4096) -> dict[str, dict]:
    """Per pattern at ``length``: the fastest path that computes the pattern (every path but plain
    SDPA, which ignores it; for ``dense``, SDPA itself), its ratio to dense, tile bound and sparsity."""
    out = {}
    for r in rows:
        if r.length != length or (r.path == "sdpa") != (r.pattern == "dense"):
            continue
        if r.pattern not in out or r.ratio > out[r.pattern]["ratio"]:
            out[r.pattern] = {"path": r.path, "ratio": r.ratio, "bound": r.bound, "sparsity": r.element_sparsity}
    return out


def block_hardware(fastest: dict[str, dict], block: str = "block70", length: int = 4096):
    """Holds if ``block``'s fastest kernel reaches a larger fraction of its tile bound
    1/(1 − s_b) than the fastest kernel of every other sparse pattern."""
    frac = {p: f["ratio"] / f["bound"] for p, f in fastest.items() if p != "dense"}
    best_other = max((p for p in frac if p != block), key=frac.get)
    holds = frac[block] > frac[best_other]
    text = ", ".join(
        f"{p} {frac[p]:.0%} ({fastest[p]['path']} {fastest[p]['ratio']:.2f}x of {fastest[p]['bound']:.2f}x)"
        for p in frac
    )
    reason = f"L={length}, fraction of the tile bound reached by each pattern's fastest kernel: {text}"
    reason += f"; {block} {'is' if holds else 'is not'} above every other (the highest other: {best_other})"
    return Measurement("modular.finding.block_hardware", holds, reason=reason, details={"fraction": frac})


def complexity_sparse(fastest: dict[str, dict], length: int = 4096, band=(0.8, 1.2)):
    """Holds if the slope b of log(time / dense) against log(1 − s) over the sparse patterns'
    fastest kernels lies in ``band``; the fit with dense's point (1, 1) is given beside it."""
    sparse = {p: f for p, f in fastest.items() if f["sparsity"] > 0}
    if len({round(f["sparsity"], 6) for f in sparse.values()}) < 2:
        raise ValueError("the fit needs patterns of at least two sparsities")

    def fit(items):
        return loglog_slope([1 - f["sparsity"] for f in items], [1 / f["ratio"] for f in items])

    b = fit(sparse.values())
    with_dense = fit(fastest.values()) if "dense" in fastest else None
    holds = band[0] <= b <= band[1]
    pts = ", ".join(f"{p} (1−s {1 - f['sparsity']:.2f}, {1 / f['ratio']:.2f}x dense time)" for p, f in sparse.items())
    reason = f"L={length}, fastest kernel per pattern: {pts}; fitted b = {b:.2f}"
    reason += f" (with dense's point: {with_dense:.2f})" if with_dense is not None else ""
    reason += f", {'inside' if holds else 'outside'} [{band[0]}, {band[1]}]; O(n²(1−s)) would be b = 1"
    return Measurement("modular.complexity.sparse", holds, reason=reason, details={"b": b, "b_with_dense": with_dense})


# --- against sequence length ---------------------------------------------------------------------


def complexity_dense(lengths, dense_seconds, band=(1.8, 2.2)):
    """Holds if the fitted exponent of dense SDPA's time against n lies in ``band``."""
    a, q1, q3 = _exponent(lengths, dense_seconds)
    holds = band[0] <= a <= band[1]
    ms = [1e3 * statistics.median(s) for s in dense_seconds]
    reason = (
        f"dense SDPA forward, n {lengths[0]}…{lengths[-1]}: {_range(ms, '.1f')} ms; time ∝ n^{a:.2f} "
        f"(per-round IQR {q1:.2f}–{q3:.2f}), {'inside' if holds else 'outside'} [{band[0]}, {band[1]}]"
    )
    return Measurement("modular.complexity.dense", holds, reason=reason, details={"exponent": (a, q1, q3)})


def scaling_linear(lengths, dense_seconds, sparse_seconds, kernels=None, window: int = 128):
    """Holds if the fixed-window sparse kernel's fitted exponent is ≤ 1.2 and dense's is ≥ 1.8."""
    a_d, dq1, dq3 = _exponent(lengths, dense_seconds)
    a_s, sq1, sq3 = _exponent(lengths, sparse_seconds)
    holds = a_s <= 1.2 and a_d >= 1.8
    which = f" ({', '.join(dict.fromkeys(kernels))})" if kernels else ""
    reason = (
        f"local window |i − j| ≤ {window}, n {lengths[0]}…{lengths[-1]}: fastest sparse kernel{which} time ∝ "
        f"n^{a_s:.2f} (IQR {sq1:.2f}–{sq3:.2f}), dense SDPA n^{a_d:.2f} (IQR {dq1:.2f}–{dq3:.2f}); "
        f"needs ≤ 1.2 and ≥ 1.8"
    )
    details = {"sparse": (a_s, sq1, sq3), "dense": (a_d, dq1, dq3)}
    return Measurement("modular.scaling.linear", holds, reason=reason, details=details)


def scaling_memory(
    lengths, dense_mb, sparse_mb, materialising_mb=None, window: int = 128, threshold: float = 0.5, by_kernel=None
):
    """Holds if the peak-memory ratio dense SDPA / sparse kernel grows with n with a log–log slope
    of at least ``threshold``; the ratio against a materialising dense pass, and the slope for
    each kernel of ``by_kernel`` (``{kernel: peak MB per length}``), are given beside it."""
    ratio = [d / s for d, s in zip(dense_mb, sparse_mb)]
    slope = loglog_slope(lengths, ratio)
    holds = slope >= threshold
    reason = (
        f"local window |i − j| ≤ {window}, n {lengths[0]}…{lengths[-1]}: peak MB dense SDPA "
        f"{_range(dense_mb, '.1f')}, sparse kernel {_range(sparse_mb, '.1f')}, ratio {_range(ratio)} "
        f"(log–log slope {slope:.2f}, needs ≥ {threshold})"
    )
    details = {"ratio": ratio, "slope": slope}
    if materialising_mb is not None:
        mat = [m / s for m, s in zip(materialising_mb, sparse_mb)]
        details |= {"materialising_ratio": mat, "materialising_slope": loglog_slope(lengths, mat)}
        slope_mat = details["materialising_slope"]
        reason += f"; against dense attention that stores the scores: {_range(mat, '.1f')}, slope {slope_mat:.2f}"
    if by_kernel:
        slopes = {k: loglog_slope(lengths, [d / s for d, s in zip(dense_mb, mb)]) for k, mb in by_kernel.items()}
        details["slope_by_kernel"] = slopes
        reason += "; slope per kernel " + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items())
    return Measurement("modular.scaling.memory", holds, reason=reason, details=details)


def longer_sequences(short: tuple[float, float, float], long: tuple[float, float, float], lengths=(1024, 2048)):
    """Holds if sparse / dense step time (median, q1, q3) is lower at the longer length with the
    IQRs apart (the longer one's q3 below the shorter one's q1)."""
    holds = long[0] < short[0] and long[2] < short[1]
    reason = (
        f"80% sparse / dense training-step time, median [IQR] of paired rounds: {short[0]:.2f}x "
        f"[{short[1]:.2f}–{short[2]:.2f}] at T={lengths[0]}, {long[0]:.2f}x [{long[1]:.2f}–{long[2]:.2f}] at "
        f"T={lengths[1]}: {'lower' if long[0] < short[0] else 'not lower'} at T={lengths[1]}, "
        f"{'IQRs overlap' if long[1] <= short[2] and short[1] <= long[2] else 'IQRs apart'}"
    )
    return Measurement(
        "modular.tradeoff.longer_sequences", holds, reason=reason, details={"short": short, "long": long}
    )


# --- from the chapter's saved results ---------------------------------------------------------------


def from_results(bench_rows, scaling: dict, seeds: dict, cost: dict, length: int = 4096) -> list[Measurement]:
    """Every statement of the chapter from its results: benchmark rows (:mod:`.bench`), the
    length study (:func:`.length_scaling.summary` of its file), the seed study
    (``pattern_seeds.json``) and the fair cost file (``fair_cost.json``, T = 1024 and 2048)."""
    from spark_edu.chapters.sparse_attention import length_scaling, pattern_seeds

    fastest = fastest_by_pattern(bench_rows, length)
    s = length_scaling.summary(scaling)
    step = {p: tuple(row["ratio"]) for p, row in seeds["step_time"].items()}
    short, long = (cost["lengths"][str(n)]["sparse"] for n in (1024, 2048))
    return [
        local_balance(pattern_seeds.by_pattern(seeds, "accuracy"), step),
        block_hardware(fastest, length=length),
        random_stability(seeds["kept"], pattern_seeds.by_pattern(seeds, "loss")),
        complexity_dense(s["lengths"], s["dense_seconds"]),
        complexity_sparse(fastest, length=length),
        scaling_memory(
            s["lengths"], s["dense_mb"], s["sparse_mb"], s["materialising_mb"], s["window"], by_kernel=s["kernel_mb"]
        ),
        scaling_linear(s["lengths"], s["dense_seconds"], s["sparse_seconds"], s["sparse_kernels"], s["window"]),
        longer_sequences(
            (short["time_ratio"], *short["time_ratio_iqr"]), (long["time_ratio"], *long["time_ratio_iqr"])
        ),
    ]
