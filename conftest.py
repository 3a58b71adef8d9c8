"""Shared test set-up: quiet output (no progress bars) and deterministic seeds. The
notebook kernels nbval starts inherit the quiet switch through the environment (do not set
MPLBACKEND here: the kernels would inherit it and stop showing figures)."""

import os

os.environ["SPARK_EDU_QUIET"] = "1"

import pytest  # noqa: E402

from spark_edu.device import seed_everything  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    seed_everything(0)
    yield
