"""The integrated SPaR-K model chapter, ``book/spark_model.ipynb``.

``training`` holds one training run (data, loss, held-out evaluation, FK bounds); ``runs`` the
ablation, the full run behind ``spark_edu/data/spark_model/results.json`` and its loading;
``timings`` the component chapters' timed evaluations; ``experiments`` the analysis and
``reproduce`` for the spark.stats.* claims; ``figures`` the plots and the widget's ``render``;
``step_bench`` (with its worker process ``step_worker``) times the training step against a
baseline tree; ``commands`` is ``python -m spark_edu run spark_model`` and ``bench spark``.
"""
