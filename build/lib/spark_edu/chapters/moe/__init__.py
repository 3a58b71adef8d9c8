"""The mixture-of-experts chapter, ``book/moe.ipynb``: routing, balance, specialisation, cost.

``experiments`` (training runs, the settings sweep, ``reproduce``), ``bench`` (the dispatch
benchmark), ``figures`` (load over training, routing matrix, the widget's ``render``),
``commands`` (``bench moe``).
"""
