"""The sparse-attention chapter, ``book/sparse_attention.ipynb``: patterns, kernels, real cost.

``experiments`` (pattern statistics, saved benchmark, speed-up table, memory sweep, ``reproduce``),
``resources`` (the report's dense vs 80 % sparse transformer row), ``bench`` (the side-by-side
kernel benchmark), ``figures`` (plots and the widget's ``render``), ``commands`` (``bench attention``).
"""
