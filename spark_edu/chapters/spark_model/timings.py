"""The component chapters' evaluations: timed, and read for "components showing improvement".

:func:`component_timings` times the book's own evaluations of the three components (each
chapter's ``reproduce(quick=True)``); :func:`suite_seconds` adds them up into the original's
two benchmark runs; :func:`components_improving` counts, from their measurements, the
components whose improvement is above zero.
"""

from __future__ import annotations

import importlib
import os

import torch

from spark_edu.device import threads
from spark_edu.measure import time_it
from spark_edu.model import COMPONENTS

COMPONENT_CHAPTERS = {"fk": "fk_attention", "spd": "spd_router", "verifier": "verifier"}
# The original's "comprehensive" run evaluated all three components; its "quick" run the SPD router and the verifier.
SUITES = {"comprehensive": ("fk", "spd", "verifier"), "quick": ("spd", "verifier")}


def component_timings(components=COMPONENTS) -> dict[str, dict]:
    """Time each component chapter's ``reproduce(quick=True)`` once; keep its measurements."""
    out = {}
    for comp in components:
        module = importlib.import_module(f"spark_edu.chapters.{COMPONENT_CHAPTERS[comp]}.experiments")
        result, n_threads = [], torch.get_num_threads()
        with threads(None):  # whatever a chapter does to the thread count, the caller's count comes back
            timing = time_it(lambda: result.append(module.reproduce(quick=True)), repeats=1, warmup=0)
        out[comp] = {
            "seconds": timing.median_s,
            "threads": n_threads,
            "load_average": os.getloadavg(),
            "measurements": [{"key": m.key, "value": m.value, "low": m.low, "high": m.high} for m in result[-1]],
        }
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
    None where the chapter's measurements are missing (the chapters were not timed).
    """
    keys = {
        "fk": lambda k: k == "spark.fk.improvement",
        "spd": lambda k: k.startswith("spark.spd.snr."),
        "verifier": lambda k: k == "spark.verifier.improvement",
    }
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
