"""The SPD router chapter, ``book/spd_router.ipynb``: structure / pseudo-random decomposition.

``prototype``: the SPaR-K benchmark re-run as its code did, and the float loss that trains
nothing; ``experiments``: the noise sweep against classical DCT denoisers, the
out-of-distribution tests and ``reproduce``; ``figures``: the sweep plot and the widget's
``render``; ``statements``: the verdict of spark.spd.only_high_noise from the sweep. The
mechanism is :mod:`spark_edu.spd`.
"""
