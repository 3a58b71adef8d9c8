"""The chapter layer: one folder per chapter of the book, above the mechanisms it teaches.

Each folder holds what its notebook runs and nothing the mechanisms need: ``experiments``
(the runs that produce the chapter's numbers and ``reproduce(quick) -> list[Measurement]``
for its claims), ``figures`` (its plots and the widget's ``render(**params) -> Figure``), and
where the chapter has one, ``bench`` and ``commands`` (its subcommands of ``python -m
spark_edu``). Imports flow one way: book → chapters → mechanisms → core.
"""

#: Chapters that answer claims of the reports, in book order (``python -m spark_edu reproduce``).
CHAPTERS = ("sparse_attention", "moe", "truthfulness", "fk_attention", "spd_router", "verifier", "spark_model")
