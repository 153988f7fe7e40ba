import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import densekit
from densekit._lib import _openmp
from densekit._threads import effective_n_threads


def run_python(code, **env):
    """Run `code` in a fresh interpreter with extra environment variables; return stdout."""
    full_env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_build_has_openmp():
    assert _openmp.openmp_enabled()
    assert _openmp.openmp_version() >= 200805  # OpenMP 3.0 or newer


def test_default_is_positive_and_capped_at_cpus():
    code = "import os, densekit; print(densekit.get_num_threads(), len(os.sched_getaffinity(0)))"
    n, cpus = map(int, run_python(code).split())
    assert 1 <= n <= cpus


@pytest.mark.parametrize("value", ["1", "3", "7"])
def test_omp_num_threads_environment_is_honoured(value):
    code = "import densekit; print(densekit.get_num_threads())"
    assert run_python(code, OMP_NUM_THREADS=value) == value


def test_set_num_threads_round_trip_and_kernel_uses_it():
    code = (
        "import densekit; from densekit._lib import _openmp\n"
        "densekit.set_num_threads(3)\n"
        "n = densekit.get_num_threads()\n"
        "print(n, _openmp.threads_used(n))"
    )
    assert run_python(code) == "3 3"


@pytest.mark.parametrize("bad", [0, -1])
def test_set_num_threads_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="`n` must be a positive integer"):
        densekit.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.0, "2", None, True])
def test_set_num_threads_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="`n` must be an integer"):
        densekit.set_num_threads(bad)


def test_threadpoolctl_sees_densekit_openmp_runtime():
    apis = [info["user_api"] for info in threadpool_info()]
    assert "openmp" in apis


def test_threadpool_limits_gives_one_thread():
    with threadpool_limits(1, user_api="openmp"):
        assert densekit.get_num_threads() == 1
        assert effective_n_threads(None) == 1
        assert _openmp.threads_used(effective_n_threads(None)) == 1
    assert densekit.get_num_threads() >= 1


def test_effective_n_threads_rules():
    default = densekit.get_num_threads()
    assert effective_n_threads(None) == default
    assert effective_n_threads(3) == 3
    assert effective_n_threads(-1) == default
    assert effective_n_threads(-(default + 5)) == 1
    with pytest.raises(ValueError, match="`n_threads` must be a non-zero integer"):
        effective_n_threads(0)
    with pytest.raises(TypeError, match="`n_threads` must be an integer"):
        effective_n_threads(2.5)
    with pytest.raises(TypeError, match="`n_threads` must be an integer"):
        effective_n_threads(True)


def test_kernel_runs_requested_thread_count(n_threads):
    assert _openmp.threads_used(n_threads) == n_threads
