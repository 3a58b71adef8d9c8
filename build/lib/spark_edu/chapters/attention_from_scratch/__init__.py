"""The first chapter, ``book/attention_from_scratch.ipynb``: attention from its equation.

``experiments``: the toy tensors and the time/memory scaling of dense attention;
``figures``: the widget's ``render`` (scores, mask and weights).
"""
