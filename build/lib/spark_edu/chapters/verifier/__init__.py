"""The verifier-head chapter, ``book/verifier.ipynb``: a differentiable stack on Dyck languages.

``models`` holds the configuration, the verifier and standard models and :func:`load_model`
(the shipped seed-0 weights); ``experiments`` trains and evaluates them, loads the saved
``results.json`` and gives ``reproduce(quick)``; ``figures`` draws the stack trace, the
generalisation curves and the widget's ``render``; ``commands`` is ``python -m spark_edu run
verifier``.
"""
