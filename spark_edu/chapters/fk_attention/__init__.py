"""The Feynman–Kac attention chapter, ``book/fk_attention.ipynb``: attention over all paths.

``experiments`` re-runs the prototype's benchmark, trains pointer-chasing models and gives
``reproduce(quick)``; ``analysis`` measures series error and cost (paired ratios to standard
attention; one saved run in ``spark_edu/data/fk_attention/cost.json``); ``sweep`` summarises,
saves and loads the sweep's records (``spark_edu/data/fk_attention/sweep.csv``); ``figures``
draws the chain resolvent (the widget's ``render``) and the chapter's plots; ``commands`` is
``python -m spark_edu run fk_attention`` (``--cost-only`` rewrites ``cost.json``). The
multi-hop study: ``learned_beta`` (FK with a bounded learned β per head), ``steps`` (one run
to a fixed accuracy, for any variant and task), ``study`` (learning rates tuned per variant,
seeds, the saved ``steps_*.json`` cells and their summaries; ``run fk_attention --study``).
The report's statements in words: ``step_cost`` (a training step of the study's FK models
against standard, saved in ``step_cost.json``; ``run fk_attention --step-cost-only``) and
``statements`` (FK − standard accuracy per cell, and the verdicts of spark.fk.harder_tasks and
spark.fk.overhead).
"""
