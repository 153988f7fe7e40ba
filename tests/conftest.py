import os

import pytest

import densekit


def _xdist_workers():
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def pytest_configure(config):
    # Under pytest-xdist, share the CPUs between workers rather than oversubscribe.
    workers = _xdist_workers()
    if workers > 1:
        densekit.set_num_threads(max(1, densekit.get_num_threads() // workers))


@pytest.fixture(params=[1, 2, 4], ids=lambda n: f"threads{n}")
def n_threads(request):
    """Explicit thread counts every kernel must give identical results for."""
    return request.param
