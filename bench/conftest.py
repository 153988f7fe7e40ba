"""Benchmarks: `pytest bench --benchmark-only`. Groups put densekit beside its baselines."""

import pytest

import densekit


@pytest.fixture(autouse=True, scope="session")
def _report_threads():
    print(f"\ndensekit benchmarks on {densekit.get_num_threads()} threads")
    yield


def ratio_note(benchmark, **extra):
    """Attach extra facts (sizes, thread counts) to a benchmark's JSON record."""
    benchmark.extra_info.update(extra)
