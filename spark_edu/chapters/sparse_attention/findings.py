"""What the chapter's prose concludes from its measurements, computed, so that the text follows
the saved benchmark (:func:`~spark_edu.chapters.sparse_attention.experiments.load_saved_benchmark`)
and the memory sweep when they are regenerated: whether the fastest own kernel is ahead of
compiled flex, which rows exceed their bound, how time grows with length, and how much
sparsity moves peak memory.

Example: ``flex_sentence(load_saved_benchmark(), 4096)`` gives a fragment such as
``"ahead of compiled flex on every pattern"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spark_edu.chapters.sparse_attention import bench
from spark_edu.chapters.sparse_attention.memory import MemoryPoint

OWN_AND_FLEX = ("readable", "gathered", "band", "flex")


def names(items) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    items = [str(item) for item in items]
    if len(items) < 2:
        return items[0] if items else "none"
    return ", ".join(items[:-1]) + " and " + items[-1]


def _iqrs_overlap(a: bench.Row, b: bench.Row) -> bool:
    if None in (a.ratio_q1, a.ratio_q3, b.ratio_q1, b.ratio_q3):
        return False
    return a.ratio_q1 <= b.ratio_q3 and b.ratio_q1 <= a.ratio_q3


def own_vs_flex(rows: list[bench.Row], length: int) -> dict[str, list[str]]:
    """Patterns at ``length`` where the fastest own kernel is ahead of compiled flex or not, and
    those too close to call. With the paired per-round ratio ``t_flex / t_own`` (rows that have
    it): ahead when its median is above 1, too close when its IQR holds 1. Without it (older
    runs): the two medians against dense SDPA, too close when their IQRs overlap."""
    best = {r.pattern: r for r in bench.best_project_rows(rows) if r.length == length}
    flex = {r.pattern: r for r in rows if r.length == length and r.path == "flex"}
    out = {"ahead": [], "behind": [], "overlap": []}
    for pattern in dict.fromkeys(r.pattern for r in rows if r.length == length):
        if pattern not in best or pattern not in flex:
            continue
        own = best[pattern]
        if own.flex_ratio is not None:
            ahead, close = own.flex_ratio > 1, own.flex_q1 <= 1 <= own.flex_q3
        else:
            ahead, close = own.ratio > flex[pattern].ratio, _iqrs_overlap(own, flex[pattern])
        out["ahead" if ahead else "behind"].append(pattern)
        if close:
            out["overlap"].append(pattern)
    return out


def paired_flex_cells(rows: list[bench.Row], length: int) -> str:
    """``local60 1.21× [1.19–1.22], …``: the fastest own kernel's paired ratio to flex per pattern."""
    cells = [
        f"{r.pattern} {r.flex_ratio:.2f}× [{r.flex_q1:.2f}–{r.flex_q3:.2f}]"
        for r in bench.best_project_rows(rows)
        if r.length == length and r.flex_ratio is not None
    ]
    return ", ".join(cells)


def flex_sentence(rows: list[bench.Row], length: int) -> str:
    """Whether the fastest own kernel is ahead of compiled flex at ``length``, pattern by pattern."""
    split = own_vs_flex(rows, length)
    if not split["behind"]:
        text = "ahead of compiled flex on every pattern"
    elif not split["ahead"]:
        text = "behind compiled flex on every pattern"
    elif len(split["behind"]) <= len(split["ahead"]):
        text = f"ahead of compiled flex on every pattern but {names(split['behind'])}"
    else:
        text = f"behind compiled flex on every pattern but {names(split['ahead'])}"
    paired = paired_flex_cells(rows, length)
    if paired:
        text += f" (flex's time over the own kernel's, per round, median [IQR]: {paired})"
    if split["overlap"]:
        text += f"; too close to call on {names(split['overlap'])}"
    return text


def over_bound(rows: list[bench.Row], lengths=None, paths=OWN_AND_FLEX) -> list[bench.Row]:
    """Rows whose ratio exceeds their bound (``fraction_of_bound > 1``): a timing artefact."""
    return [r for r in rows if r.path in paths and r.fraction_of_bound > 1 and (lengths is None or r.length in lengths)]


def over_bound_sentence(rows: list[bench.Row], lengths=None) -> str:
    """Which rows of the saved run exceed their bound, as a sentence."""
    found = over_bound(rows, lengths)
    if not found:
        return "No own kernel and no compiled flex row of the saved run exceeds its bound."
    groups = {}
    for r in found:
        groups.setdefault((r.pattern, r.length), []).append(f"{r.path} {r.fraction_of_bound:.0%}")
    parts = [f"{pattern} at L = {length} ({names(paths)} of the bound)" for (pattern, length), paths in groups.items()]
    return f"Rows above their bound in the saved run: {names(parts)}."


def faster_than_sdpa(rows: list[bench.Row], length: int, path: str) -> list[str]:
    """Patterns at ``length`` on which ``path`` is faster than dense SDPA (median ratio > 1)."""
    return [r.pattern for r in rows if r.length == length and r.path == path and r.ratio > 1]


def time_exponents(rows: list[bench.Row], pattern: str, paths) -> dict[str, float]:
    """Least-squares slope of log time against log L, per path with at least two lengths."""
    out = {}
    for path in paths:
        pts = [(math.log(r.length), math.log(r.median_ms)) for r in rows if r.pattern == pattern and r.path == path]
        if len(pts) > 1:
            mx, my = (sum(p[i] for p in pts) / len(pts) for i in (0, 1))
            out[path] = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    return out


def saved_format(rows: list[bench.Row], lengths=(4096, 8192)) -> str:
    """How the saved rows were measured: paired rounds with IQR and own bounds, or the older run."""
    if all(r.ratio_q1 is not None and r.path_bound is not None for r in rows):
        rounds = sorted({r.rounds for r in rows if r.rounds})
        return (
            f"Each saved ratio is the median over {names(rounds)} paired rounds, with its interquartile "
            "range in the saved markdown files, and each fraction uses its kernel's own bound."
        )
    best_band = [r for r in bench.best_project_rows(rows) if r.path == "band" and r.length in lengths]
    effect = (
        "the best own kernel in the tables above is a tile kernel everywhere, so their fractions are unaffected"
        if not best_band
        else f"the band rows among the best ({names(f'{r.pattern} at L = {r.length}' for r in best_band)}) "
        "still divide by the tile bound"
    )
    return (
        "These saved files come from the benchmark's earlier version: their ratios are ratios of medians, "
        "without an interquartile range, their fractions divide every kernel by the tile bound "
        f"({effect}), and their memory columns come from the earlier peak-memory measurement."
    )


@dataclass(frozen=True)
class MemorySummary:
    reference_mb: tuple[float, float]  # (min, max) over the sweep
    sdpa_mb: float
    gathered_mb: tuple[float, float]
    readable_mb: tuple[float, float]
    gathered_spread: float  # max / min of the gathered kernel's peak over the sweep
    saving_vs_sdpa: tuple[float, float]  # SDPA / gathered peak, (min, max)
    saving_vs_reference: tuple[float, float]  # reference / gathered peak, (min, max)
    gathered_below_sdpa: list[float]  # the block sparsities at which gathered holds less than SDPA


def memory_summary(points: list[MemoryPoint]) -> MemorySummary:
    """The memory sweep's numbers that the prose quotes."""
    span = lambda values: (min(values), max(values))  # noqa: E731
    gathered = [p.gathered_mb for p in points]
    return MemorySummary(
        span([p.reference_mb for p in points]),
        max(p.sdpa_mb for p in points),
        span(gathered),
        span([p.readable_mb for p in points]),
        max(gathered) / min(gathered),
        span([p.sdpa_mb / p.gathered_mb for p in points]),
        span([p.reference_mb / p.gathered_mb for p in points]),
        [p.block_sparsity for p in points if p.gathered_mb < p.sdpa_mb],
    )


# --- the report's statements, as fragments for the prose -------------------------------------------


def _verdict(m) -> str:
    return "not settled as stated" if not m.as_stated else "holds" if m.value else "does not hold"


def _ci(t, fmt=".3f") -> str:
    return f"{t[0]:{fmt}} [{t[1]:{fmt}}, {t[2]:{fmt}}]"


def statement_fragments(measurements) -> dict[str, str]:
    """One short fragment per statement of :mod:`.statements` (verdict first, then its numbers),
    keyed by the claim key without ``modular.``, dots as underscores (``"finding_block_hardware"``)."""
    m = {x.key.removeprefix("modular.").replace(".", "_"): x for x in measurements}
    return {name: f"{_verdict(x)}: {_FRAGMENTS[name](x.details)}" for name, x in m.items() if name in _FRAGMENTS}


def _balance(d) -> str:
    acc, step = d["accuracy"], d["step_ratio"]
    parts = [f"{p} {_ci(acc[p])} at {step[p][0]:.2f}× dense's step time" for p in acc]
    return "held-out accuracy " + "; ".join(parts)


def _stability(d) -> str:
    kept = ", ".join(f"{p} {v:.0%}" for p, v in d["kept"].items() if p != "dense")
    sparse = sorted(((p, s) for p, s in d["sd"].items() if p != "dense"), key=lambda x: -x[1][0])
    sd = ", ".join(f"{p} {s[0]:.3f} [{s[1]:.3f}, {s[2]:.3f}]" for p, s in sparse)
    overlap = "" if d.get("apart") else " (the intervals overlap)"
    dense = f"; dense, beside them, {d['sd']['dense'][0]:.3f}" if "dense" in d["sd"] else ""
    return f"kept elements {kept}; SD of held-out loss over seeds {sd}{overlap}{dense}"


_FRAGMENTS = {
    "finding_local_balance": _balance,
    "finding_block_hardware": lambda d: (
        "fraction of the tile bound "
        + ", ".join(f"{p} {f:.0%}" for p, f in sorted(d["fraction"].items(), key=lambda x: -x[1]))
    ),
    "finding_random_stability": _stability,
    "complexity_dense": lambda d: (
        f"time ∝ n^{d['exponent'][0]:.2f} (per-round IQR {d['exponent'][1]:.2f}–{d['exponent'][2]:.2f})"
    ),
    "complexity_sparse": lambda d: f"b = {d['b']:.2f}",
    "scaling_memory": lambda d: (
        f"SDPA / fixed-window kernel peak memory {d['ratio'][0]:.2f} → {d['ratio'][-1]:.2f} (slope "
        f"{d['slope']:.2f}); against dense that stores the scores {d['materialising_ratio'][0]:.1f} → "
        f"{d['materialising_ratio'][-1]:.1f} (slope {d['materialising_slope']:.2f})"
    ),
    "scaling_linear": lambda d: f"sparse n^{d['sparse'][0]:.2f}, dense n^{d['dense'][0]:.2f}",
    "tradeoff_longer_sequences": lambda d: (
        f"sparse / dense step time {d['short'][0]:.2f}× [IQR {d['short'][1]:.2f}–"
        f"{d['short'][2]:.2f}] at T = 1024, {d['long'][0]:.2f}× [{d['long'][1]:.2f}–{d['long'][2]:.2f}] at T = 2048"
    ),
}
