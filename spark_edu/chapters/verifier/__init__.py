"""The verifier-head chapter, ``book/verifier.ipynb``: a differentiable stack on Dyck languages.

``models`` holds the configuration, the verifier, the causal-transformer and LSTM baselines and
:func:`load_model` (the shipped seed-0 weights); ``runs`` draws the disjoint data, trains,
evaluates and runs the learning-rate sweep; ``experiments`` loads the saved ``results.json``,
summarises it and gives ``reproduce(quick)``; ``figures`` draws the stack trace, the learning
and generalisation curves and the widget's ``render``; ``commands`` is ``python -m spark_edu run
verifier``.
"""
