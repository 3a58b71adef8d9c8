"""Device choice, seeding and determinism: the one place every chapter starts from."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """Return ``cuda`` when a GPU is present (or ``prefer`` asks for it), else ``cpu``.

    ``prefer`` may be ``None`` (automatic), ``"cpu"`` or ``"cuda"``; asking for CUDA on a
    machine without it raises ``ValueError`` rather than silently falling back.
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if prefer not in ("cpu", "cuda"):
        raise ValueError(f"prefer must be None, 'cpu' or 'cuda', got {prefer!r}")
    if prefer == "cuda" and not torch.cuda.is_available():
        raise ValueError("prefer='cuda' but no CUDA device is available")
    return torch.device(prefer)


def seed_everything(seed: int = 0, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; optionally switch torch to deterministic kernels.

    Returns a fresh ``torch.Generator`` seeded with ``seed`` for code that wants its own
    stream (``torch.randn(..., generator=g)``) independent of the global one.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    return torch.Generator().manual_seed(seed)


def cpu_capability() -> str:
    """The SIMD level torch dispatches to on this CPU (e.g. ``AVX2``, ``AVX512``)."""
    return torch.backends.cpu.get_cpu_capability()


def describe_environment() -> dict[str, str]:
    """A small, printable record of where a measurement was taken."""
    info = {
        "torch": torch.__version__,
        "device": str(get_device()),
        "cpu_capability": cpu_capability(),
        "threads": str(torch.get_num_threads()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def quiet() -> bool:
    """True under tests and ``make execute`` (``SPARK_EDU_QUIET=1``): no progress bars."""
    return os.environ.get("SPARK_EDU_QUIET", "") not in ("", "0")


@contextlib.contextmanager
def threads(n: int | None):
    """Run torch on ``n`` intra-op threads, then restore the previous count (also a decorator).

    ``n=None`` leaves the count as it is. Every place in the package that changes the thread
    count goes through here, so the count a caller had always comes back, even after an error.
    """
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"threads must be None or a positive int, got {n!r}")
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def one_thread():
    """:func:`threads` (1): the book's training runs use tiny matrices.

    A second thread buys nothing there, float sums come out bit-for-bit the same whatever the
    machine's thread count (stable printed tables), and on a busy machine two threads per
    process were measured up to 10x slower.
    """
    return threads(1)
