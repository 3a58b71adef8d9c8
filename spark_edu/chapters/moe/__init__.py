"""The mixture-of-experts chapter, ``book/moe.ipynb``: routing, balance, specialisation, cost.

``experiments`` (training runs, the settings sweep, ``reproduce``), ``bench`` (the dispatch
benchmark), ``figures`` (load over training, routing matrix, the widget's ``render``),
``expert_parallel_bench`` (the layer over W processes: phases, bytes against the cost model),
``scaling`` (that cost model at 8, 64, 256 devices: a model, not a measurement),
``parallel_figures`` (which token goes where; data × expert × tensor parallel layouts),
``commands`` (``bench moe``, ``bench moe-parallel``).
"""
