"""Benchmarks: `pytest bench --benchmark-only`. Groups put densekit beside its baselines."""

import numpy as np
import pytest

import densekit


@pytest.fixture(autouse=True, scope="session")
def _report_threads():
    print(f"\ndensekit benchmarks on {densekit.get_num_threads()} threads")
    yield


@pytest.fixture(autouse=True, scope="session")
def _warm_memory():
    """Touch and free 1 GiB twice before the first benchmark.

    On a VM with free page reporting (the Firecracker VMs these runs were made on), memory
    freed in 8 MiB blocks goes back to the host and the next touch of it costs 1.4-1.9 s
    per GiB. A fresh benchmark process then pays that in its first large outputs, that is
    in whichever case of the first group runs first: MaxNorm out of place at 4096^2 took
    102, 106, 89, 52, 27 ms on its first calls in a fresh pytest process and 11-12 ms from
    the first call after this warm-up (one thread: 20-21 ms either way)."""
    for _ in range(2):
        block = np.ones(1 << 28, dtype=np.float32)
        del block
    yield


def ratio_note(benchmark, **extra):
    """Attach extra facts (sizes, thread counts) to a benchmark's JSON record."""
    benchmark.extra_info.update(extra)
