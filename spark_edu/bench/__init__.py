"""Side-by-side benchmarks: ``python -m spark_edu.bench attention|moe``.

Each sub-module times its paths in one run and reports medians and ratios (never single
wall-clock numbers in isolation), with the CPU capability printed beside them.
"""
