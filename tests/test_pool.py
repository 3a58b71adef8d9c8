"""The job pool: in this process for one worker, spawned processes for more, one ``submit``."""

import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from spark_edu.pool import InProcess, job_pool


def test_one_worker_runs_in_this_process_and_more_spawn_a_pool():
    with job_pool(1) as pool:
        assert isinstance(pool, InProcess) and pool.submit(os.getpid).result() == os.getpid()
    with job_pool(2) as pool:
        assert isinstance(pool, ProcessPoolExecutor) and pool.submit(os.getpid).result() != os.getpid()


@pytest.mark.parametrize("workers", [0, -1, 1.5])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(ValueError, match="workers"):
        job_pool(workers)
