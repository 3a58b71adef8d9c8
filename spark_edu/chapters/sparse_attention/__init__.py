"""The sparse-attention chapter, ``book/sparse_attention.ipynb``: patterns, kernels, real cost.

``experiments`` (pattern statistics, saved benchmark, speed-up table, memory sweep, ``reproduce``),
``bench`` (the side-by-side kernel benchmark), ``figures`` (plots and the widget's ``render``),
``commands`` (``bench attention``, ``run sparse_attention``). The report's dense vs 80 % sparse
transformer row, made fair: ``fair_resources`` (dense, dense with the band
mask and block-sparse models; local and long-range tasks), ``fair_flops`` (analytic FLOPs),
``fair_study`` (the training study), ``fair_cost`` (step time and memory), ``fair_report``
(its table and the re-judged claims).
"""
