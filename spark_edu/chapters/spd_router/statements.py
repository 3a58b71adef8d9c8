"""The report's statement on the SPD router (spark.spd.only_high_noise), judged from the noise sweep.

What is measured, per noise level σ of the chapter's stationary sweep
(:func:`~spark_edu.chapters.spd_router.experiments.noise_sweep`): the learned-basis router's
output-SNR gain over its input (eq-spd-snr, mean over held-out signals) as a mean with a 95%
Student-t interval over seeds, and beside it the router's gain over the best linear filter (the
LMMSE, eq-spd-lmmse), paired by seed (:func:`~spark_edu.chapters.spd_router.nonstationary.paired_gap`).
:func:`gains_by_level` builds these from the sweep's records; :func:`only_high_noise` is a pure
function of them and returns the statement's :class:`~spark_edu.claims.Measurement`: it holds
when the levels whose gain over the input has its interval above 0 are exactly those ≥ 0.5.
"""

from __future__ import annotations

from spark_edu.chapters.spd_router.experiments import LMMSE_NAME, ROUTERS, summarize
from spark_edu.chapters.spd_router.nonstationary import paired_gap
from spark_edu.claims import Measurement

KEY = "spark.spd.only_high_noise"
HIGH = 0.5  # the report's "high noise levels (≥0.5)"
ROUTER = ROUTERS[0]  # the learned-basis router, the report's


def gains_by_level(records: list[dict], router: str = ROUTER) -> dict[float, dict]:
    """{σ: {"gain": [mean, low, high], "over_lmmse": [mean, low, high] or None, "seeds": n}} from sweep records."""
    gains = summarize(records, "snr_improvement")
    out = {}
    for level in sorted({r["noise"] for r in records if r["method"] == router}):
        at = [r for r in records if r["noise"] == level]
        has_lmmse = any(r["method"] == LMMSE_NAME for r in at)
        out[level] = {
            "gain": list(gains[(router, level)]),
            "over_lmmse": list(paired_gap(at, router, LMMSE_NAME)) if has_lmmse else None,
            "seeds": sum(r["method"] == router for r in at),
        }
    return out


def _interval(name: str, m: list[float]) -> str:
    return f"{name} {m[0]:+.2f} dB [{m[1]:+.2f}, {m[2]:+.2f}]"


def _levels(levels) -> str:
    return ", ".join(f"{lv:g}" for lv in levels) or "none"


def only_high_noise(levels: dict[float, dict], high: float = HIGH) -> Measurement:
    """Holds if the levels whose gain over the input has its 95% interval above 0 are exactly those ≥ ``high``.

    ``levels`` as :func:`gains_by_level` returns; the gain over the LMMSE is reported, not decided on.
    """
    if not levels:
        raise ValueError("only_high_noise needs at least one noise level")
    improves = [lv for lv, m in levels.items() if m["gain"][1] > 0]
    expected = [lv for lv in levels if lv >= high]
    holds = sorted(improves) == sorted(expected)
    seeds = sorted({m["seeds"] for m in levels.values()})
    parts = []
    for lv, m in sorted(levels.items()):
        text = f"σ {lv:g}: {_interval('gain', m['gain'])}"
        if m["over_lmmse"] is not None:
            text += f", {_interval('over LMMSE', m['over_lmmse'])}"
        parts.append(text)
    over = [lv for lv, m in levels.items() if m["over_lmmse"] is not None and m["over_lmmse"][1] > 0]
    under = [lv for lv, m in levels.items() if m["over_lmmse"] is not None and m["over_lmmse"][2] < 0]
    verdict = (
        f"improves (interval above 0) at σ {_levels(sorted(improves))}, "
        f"{'exactly' if holds else 'not only'} the levels ≥ {high:g} ({_levels(expected)})"
    )
    if not holds and not set(expected) <= set(improves):
        verdict = f"improves at σ {_levels(sorted(improves))}, not at every level ≥ {high:g} ({_levels(expected)})"
    reason = (
        f"{'; '.join(parts)} (95% interval over {'/'.join(map(str, seeds))} seeds); {verdict}; "
        f"beats the best linear filter at σ {_levels(sorted(over))}, falls below it at σ {_levels(sorted(under))}"
    )
    details = {
        "levels": {str(lv): m for lv, m in levels.items()},
        "improves": improves,
        "beats_lmmse": over,
        "below_lmmse": under,
    }
    return Measurement(KEY, holds, reason=reason, details=details)
