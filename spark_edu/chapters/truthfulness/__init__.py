"""The truthfulness chapter, ``book/truthfulness.ipynb``: the report's classifier metrics, measured.

``experiments``: both classifiers on LIAR-like and prototype-style labels with bootstrap
intervals, the label-noise sweep, the TruthfulQA-like demo and ``reproduce``; ``figures``: the
ROC and noise plots and the widget's ``render``. The mechanism is :mod:`spark_edu.truthfulness`.
"""
