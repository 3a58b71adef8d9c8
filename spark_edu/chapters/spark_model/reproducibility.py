"""The prototype-faithful benchmarks re-run over seeds: how much each headline number moves.

The report's "Reproducibility: ✅ Results consistent across multiple runs" is judged
(:func:`spark_edu.chapters.spark_model.statements.reproducibility`) on the component chapters'
re-runs of the prototype's own benchmarks, each run once per seed of :data:`SEEDS`:

* FK attention: :func:`spark_edu.chapters.fk_attention.experiments.prototype_setting`, standard
  and FK, giving per seed the numbers of ``spark.fk.standard_accuracy``, ``spark.fk.fk_accuracy``
  and ``spark.fk.improvement`` (FK − standard at the same seed);
* SPD router: :func:`spark_edu.chapters.spd_router.prototype.prototype_table` at each of the
  report's noise levels (its "quick" set-up at 0.6, as the report), giving per seed the numbers
  of ``spark.spd.corr.n<σ>`` (latent cosine) and ``spark.spd.snr.n<σ>`` (latent power ratio −
  input SNR).

``python -m spark_edu run spark_model --reproducibility`` writes :func:`run_reproducibility`'s
result to ``spark_edu/data/spark_model/reproducibility.json`` (under a minute on one thread);
:func:`load_reproducibility` reads it back.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from spark_edu.results import data_dir

SEEDS = tuple(range(8))
REPRODUCIBILITY = "reproducibility.json"  # the saved file's name in the chapter's data folder
COMMAND = "python -m spark_edu run spark_model --reproducibility"


def headline_runs(seeds=SEEDS) -> dict[str, list[float]]:
    """Claim key -> its headline number in each run of the prototype benchmarks, in ``seeds`` order."""
    from spark_edu.chapters.fk_attention.experiments import KINDS, prototype_setting
    from spark_edu.chapters.spd_router.prototype import NOISE_LEVELS, prototype_table

    fk = {kind: [prototype_setting(kind, s) for s in seeds] for kind in KINDS}
    out = {
        "spark.fk.standard_accuracy": fk["standard"],
        "spark.fk.fk_accuracy": fk["fk"],
        "spark.fk.improvement": [f - s for f, s in zip(fk["fk"], fk["standard"])],
    }
    table = prototype_table(seeds=seeds, noise_levels=NOISE_LEVELS)
    for level in NOISE_LEVELS:
        out[f"spark.spd.corr.n{level}"] = table[level]["correlation"]
        out[f"spark.spd.snr.n{level}"] = table[level]["snr_improvement"]
    return out


def run_reproducibility(seeds=SEEDS) -> dict:
    """:func:`headline_runs` with how it was made: what ``reproducibility.json`` holds."""
    started = time.perf_counter()
    runs = headline_runs(seeds)
    return {
        "command": COMMAND,
        "seeds": list(seeds),
        "runs": runs,
        "wall_s": round(time.perf_counter() - started, 1),
        "threads": 1,  # both benchmarks run in spark_edu.device.one_thread
        "load_average": os.getloadavg(),
    }


def load_reproducibility(path: Path | str | None = None) -> dict | None:
    """The saved runs (``reproducibility.json`` in the chapter's data folder), or None."""
    path = data_dir("spark_model") / REPRODUCIBILITY if path is None else Path(path)
    return json.loads(path.read_text()) if path.exists() else None
