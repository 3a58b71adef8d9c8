"""Shared test set-up: quiet output (no progress bars), deterministic seeds, the
Agg backend for figures, and the notebook kernels inherit the same quiet switch."""

import os

os.environ["SPARK_EDU_QUIET"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from spark_edu.device import seed_everything  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    seed_everything(0)
    yield
