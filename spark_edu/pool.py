"""Where a study's independent training runs execute: a pool of ``workers`` spawned processes,
or, for ``workers = 1``, the calling process itself (no pool to spawn, the same ``submit``)."""

from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

from spark_edu.validation import check_positive_int


class InProcess:
    """``submit`` runs the job at once in this process and returns its finished future."""

    def submit(self, fn, *args) -> Future:
        future = Future()
        future.set_result(fn(*args))
        return future


def job_pool(workers: int):
    """A context manager giving an object with ``submit(fn, *args) -> Future``."""
    check_positive_int("workers", workers)
    if workers > 1:
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    return contextlib.nullcontext(InProcess())
