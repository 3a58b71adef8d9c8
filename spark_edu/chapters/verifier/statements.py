"""The SPaR-K report's statements about the verifier head, each judged by its criterion
(``spark_edu.claims.statements``) from measured numbers.

* ``spark.verifier.underperforms``: per (language, task) cell, the verifier's held-out accuracy
  minus the causal transformer's, paired by seed (both train on the same batches), with a 95%
  Student-t interval over seeds; the statement holds when every cell's interval lies below 0.
* ``spark.verifier.stack_correct``: the largest absolute difference between the soft stack on hard
  push/pop actions and a discrete stack over every step of the chapter's control strings (below
  1e-5), and the trained verifier's stack loss against its value at initialisation (below a tenth);
  see :mod:`spark_edu.chapters.verifier.stack_controls`.
* ``spark.verifier.longer_training``: the verifier's held-out accuracy after four times the
  chapter's budget minus its accuracy at the budget, mean over seeds (paired by seed, interval
  shown); holds when the mean rise is at least 0.05 on some task (the reading most favourable to
  the statement). The reason also gives the headroom, 1 − the budget accuracy, since a rise can
  never exceed it.

Every function is pure: numbers in, one :class:`~spark_edu.claims.Measurement` out.
"""

from __future__ import annotations

import statistics

from spark_edu.claims import Measurement
from spark_edu.measure import mean_interval

STACK_TOLERANCE = 1e-5  # largest absolute difference allowed between the soft and the discrete stack
LOSS_FACTOR = 0.1  # the trained stack loss must end below this fraction of its initial value
MIN_RISE = 0.05  # accuracy the longer run must add, mean over seeds


def _paired(a: list[float], b: list[float]) -> tuple[float, float, float]:
    if len(a) != len(b) or not a:
        raise ValueError(f"need the same non-zero number of seeds on both sides, got {len(a)} and {len(b)}")
    return mean_interval([x - y for x, y in zip(a, b)])


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def underperforms(cells: dict[tuple[int, str], dict[str, list[float]]]) -> Measurement:
    """``cells[(language, task)] = {"verifier": [...], "standard": [...]}``, held-out accuracy per seed
    (same seed order on both sides)."""
    if not cells:
        raise ValueError("cells must not be empty")
    gaps = {cell: _paired(v["verifier"], v["standard"]) for cell, v in sorted(cells.items())}
    below = {cell: hi < 0 for cell, (_, _, hi) in gaps.items()}
    holds = all(below.values())
    n = {len(v["verifier"]) for v in cells.values()}
    parts = [
        f"Dyck-{lang} {task} {_signed(m)} [{_signed(lo)}, {_signed(hi)}]" for (lang, task), (m, lo, hi) in gaps.items()
    ]
    failing = [f"Dyck-{lang} {task}" for (lang, task), ok in below.items() if not ok]
    verdict = (
        "every interval lies below 0"
        if holds
        else f"not below 0 in {', '.join(failing)}, so the verifier does not consistently underperform"
    )
    return Measurement(
        "spark.verifier.underperforms",
        holds,
        reason=f"verifier − standard held-out accuracy, paired by seed, mean [95% interval] over "
        f"{'/'.join(map(str, sorted(n)))} seeds: {'; '.join(parts)}; {verdict}",
        details={"gaps": {f"{lang}/{task}": g for (lang, task), g in gaps.items()}, "below_zero": below},
    )


def stack_correct(check: dict, losses: dict) -> Measurement:
    """``check`` from :func:`~spark_edu.chapters.verifier.stack_controls.hard_stack_check`
    (``strings``, ``steps``, ``exact_strings``, ``largest_abs_diff``); ``losses`` from
    :func:`~spark_edu.chapters.verifier.stack_controls.stack_losses` (``initial``, ``trained``)."""
    exact = check["largest_abs_diff"] < STACK_TOLERANCE
    ratio = losses["trained"] / losses["initial"] if losses["initial"] > 0 else float("inf")
    lower = ratio < LOSS_FACTOR
    holds = exact and lower
    return Measurement(
        "spark.verifier.stack_correct",
        holds,
        reason=f"hard push/pop: {check['exact_strings']:,} of {check['strings']:,} control strings "
        f"({check['steps']:,} steps) match the discrete stack exactly, largest difference "
        f"{check['largest_abs_diff']:.2g} ({'below' if exact else 'not below'} {STACK_TOLERANCE:g}); "
        f"trained verifier's stack loss (depth MSE, seed {losses.get('seed', 0)} test set) "
        f"{losses['trained']:.2g} vs {losses['initial']:.3g} at initialisation, ratio {ratio:.2g} "
        f"({'below' if lower else 'not below'} {LOSS_FACTOR:g})",
        details={"check": check, "losses": losses, "loss_ratio": ratio},
    )


def longer_training(
    budget: dict[str, list[float]],
    long: dict[str, list[float]],
    steps: tuple[int, int],
    chapter: dict[str, list[float]] | None = None,
) -> Measurement:
    """``budget[task]``, ``long[task]``: the verifier's held-out accuracy per seed after ``steps[0]``
    and ``steps[1]`` training steps of the same runs (same seed order). ``chapter[task]``, if given:
    the chapter's own runs at ``steps[0]``, shown beside (they do not decide)."""
    if not budget or set(budget) != set(long):
        raise ValueError(f"budget and long must name the same tasks, got {sorted(budget)} and {sorted(long)}")
    rises = {task: _paired(long[task], budget[task]) for task in budget}
    room = {task: 1 - statistics.fmean(budget[task]) for task in budget}
    holds = any(m >= MIN_RISE for m, _, _ in rises.values())

    def described(start: dict[str, list[float]], gaps: dict) -> str:
        return "; ".join(
            f"{task} {statistics.fmean(start[task]):.3f} → {statistics.fmean(long[task]):.3f}, rise "
            f"{_signed(m)} [{_signed(lo)}, {_signed(hi)}]"
            + (f" (room to 1: {room[task]:.3f})" if start is budget else "")
            for task, (m, lo, hi) in gaps.items()
        )

    best = max(m for m, _, _ in rises.values())
    n_seeds = len(next(iter(budget.values())))
    reason = (
        f"verifier, {steps[0]:,} → {steps[1]:,} steps in the same runs, held-out accuracy mean over {n_seeds} "
        f"seeds [95% interval of the paired rise]: {described(budget, rises)}; largest mean rise {_signed(best)}, "
        f"{'at least' if holds else 'below'} the {MIN_RISE:g} needed"
    )
    details = {"rises": rises, "room": room, "steps": list(steps)}
    if chapter is not None:
        against = {task: _paired(long[task], chapter[task]) for task in chapter}
        reason += f"; against the chapter's own runs at {steps[0]:,} steps: {described(chapter, against)}"
        details["rises_vs_chapter"] = against
    return Measurement("spark.verifier.longer_training", holds, reason=reason, details=details)
