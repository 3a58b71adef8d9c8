"""The closing chapter, ``book/audit.ipynb``: every claim of both reports, measured and judged.

``reproduce`` runs every chapter's ``reproduce(quick)`` and writes ``claims.csv``, ``claims.md``
and ``environment.json``; ``figures`` draws the verdict counts; ``commands`` is ``python -m
spark_edu reproduce``. The full run's files ship in ``spark_edu/data/audit/``.
"""
