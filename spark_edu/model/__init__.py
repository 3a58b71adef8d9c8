"""The integrated SPaR-K model (:mod:`~spark_edu.model.spark`) and its parameter count against
the original prototype's (:mod:`~spark_edu.model.parameters`). Taught in ``book/spark_model.ipynb``.
"""

from spark_edu.model.parameters import NOTES, original_breakdown, parameter_breakdown, parameter_table
from spark_edu.model.spark import (
    COMPONENTS,
    PRESETS,
    SPD_WIRINGS,
    SparkBlock,
    SparkConfig,
    SparkTransformer,
    build,
    matched_standard,
    parameter_count,
    preset,
)

__all__ = [
    "COMPONENTS",
    "NOTES",
    "PRESETS",
    "SPD_WIRINGS",
    "SparkBlock",
    "SparkConfig",
    "SparkTransformer",
    "build",
    "matched_standard",
    "original_breakdown",
    "parameter_breakdown",
    "parameter_count",
    "parameter_table",
    "preset",
]
