import os
import signal
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


# ------------------------------------------------------------- fork safety (issue 10.2)
FORK_SCRIPT = r"""
import multiprocessing, sys
import numpy as np
import densekit
from densekit import activations, constraints, initializers as I, regularizers
from densekit._threads import effective_n_threads
from densekit.layers import Dense

x = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)


def work(k):
    w = I.HeNormal(seed=k)((1024, 1024), n_threads=2)
    layer = Dense(512, activation="relu", kernel_initializer=I.GlorotUniform(seed=k), n_threads=2)
    y = layer(x)  # a GEMM big enough for BLAS to thread, then the fused OpenMP pass
    a = activations.softmax(w, n_threads=2)
    c = constraints.MaxNorm(1.0)(w, n_threads=2)
    r = regularizers.L2(0.01)(w, n_threads=2)
    return (float(w.sum(dtype=np.float64)), float(y.sum(dtype=np.float64)),
            float(a.sum(dtype=np.float64)), float(c.sum(dtype=np.float64)), float(r),
            effective_n_threads(2), densekit.get_num_threads())


if __name__ == "__main__":
    parent = [work(k)[:5] for k in range(2)]  # runs OpenMP regions on 2 threads first
    assert effective_n_threads(2) == 2
    with multiprocessing.get_context("fork").Pool(2) as pool:
        children = pool.map(work, range(2))
    assert [c[:5] for c in children] == parent, (children, parent)
    assert all(c[5:] == (1, 1) for c in children), children
    assert effective_n_threads(2) == 2  # the parent keeps its threads
    print("ok")
"""


def test_fork_after_openmp_does_not_hang(tmp_path):
    # libgomp's thread pool does not survive fork(): before the fix, the children's
    # first parallel region waited forever. The timeout turns a hang into a failure.
    script = tmp_path / "fork_after_openmp.py"
    script.write_text(FORK_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    # A session of its own, so that a hang kills the pool workers too, not only the parent.
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("a forked child hung in its first OpenMP region")
    assert proc.returncode == 0, stderr
    assert stdout.strip() == "ok"


def test_forked_child_resolves_every_count_to_one():
    code = (
        "import os, densekit\n"
        "from densekit._threads import effective_n_threads\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = (effective_n_threads(4), effective_n_threads(None), effective_n_threads(-1),\n"
        "          densekit.get_num_threads()) == (1, 1, 1, 1)\n"
        "    os._exit(0 if ok else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status), effective_n_threads(4))"
    )
    assert run_python(code) == "0 4"


# ------------------------------------------------------------ thread caps (issue 10.4)
def test_max_threads_is_documented_bound():
    from densekit._threads import max_threads

    assert max_threads() == max(256, 4 * len(os.sched_getaffinity(0)))


@pytest.mark.parametrize("huge", [40000, 100000, 2**31, 2**70])
def test_huge_n_threads_is_rejected_naming_the_argument(huge):
    # Before: libgomp printed "Thread creation failed" and exit(1)ed the interpreter
    # (40000), segfaulted (100000), or Cython raised OverflowError (2**31).
    with pytest.raises(ValueError, match=rf"`n_threads` must be at most \d+.*n_threads={huge}"):
        effective_n_threads(huge)
    with pytest.raises(ValueError, match=rf"`n` must be at most \d+.*n={huge}"):
        densekit.set_num_threads(huge)


def test_huge_n_threads_rejected_by_public_entry_points():
    import numpy as np

    from densekit import activations, initializers
    from densekit.layers import Dense

    with pytest.raises(ValueError, match="`n_threads` must be at most"):
        initializers.HeNormal(seed=0)((4, 4), n_threads=40000)
    with pytest.raises(ValueError, match="`n_threads` must be at most"):
        activations.relu(np.ones(3), n_threads=100000)
    with pytest.raises(ValueError, match="`n_threads` must be at most"):
        Dense(2, n_threads=2**31)


def test_max_threads_itself_is_accepted():
    from densekit._threads import max_threads

    assert effective_n_threads(max_threads()) == max_threads()


def test_huge_omp_num_threads_is_capped():
    code = "import densekit; from densekit._threads import max_threads; " \
           "print(densekit.get_num_threads() == max_threads())"
    assert run_python(code, OMP_NUM_THREADS="100000") == "True"


@pytest.mark.parametrize("command", ["init", "demo"])
def test_cli_huge_threads_is_an_error_not_a_dead_interpreter(command, tmp_path):
    # Before: libgomp printed "Thread creation failed" and exit(1)ed (or segfaulted),
    # and `init` left a 64 MiB .partial behind.
    args = {
        "init": ["init", "he_normal", "--shape", "4096", "4096", "-o", str(tmp_path / "w.npy")],
        "demo": ["demo", "--size", "64", "--width", "64", "--repeat", "1"],
    }[command]
    proc = subprocess.run(
        [sys.executable, "-m", "densekit", *args, "--threads", "40000"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode > 0  # an error status, not a signal
    assert "Thread creation failed" not in proc.stderr
    assert "`n_threads` must be at most" in proc.stderr
    # A usage error from the parser, before any work: no traceback.
    assert "Traceback" not in proc.stderr and "argument --threads" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------- threads by work (issue 13)
def test_threads_for_small_work_stays_on_the_calling_thread():
    from densekit._threads import PARALLEL_WORK, threads_for

    for n in (None, 1, 2, 4, -1):
        assert threads_for(0, n) == 1
        assert threads_for(PARALLEL_WORK - 1, n) == 1
    # a small call still validates its argument
    with pytest.raises(ValueError, match="n_threads"):
        threads_for(10, 0)
    with pytest.raises(TypeError, match="n_threads"):
        threads_for(10, 2.5)


def test_threads_for_large_work_gives_one_thread_per_share():
    from densekit._threads import PARALLEL_WORK, threads_for

    assert threads_for(PARALLEL_WORK, 4) == 1
    assert threads_for(3 * PARALLEL_WORK, 4) == 3
    assert threads_for(100 * PARALLEL_WORK, 4) == 4
    assert threads_for(100 * PARALLEL_WORK, None) == effective_n_threads(None)


def test_scipy_blas_one_thread_restores_the_count():
    from densekit._threads import numpy_blas_one_thread, scipy_blas_one_thread

    def scipy_blas():
        return [i["num_threads"] for i in threadpool_info()
                if i["internal_api"] == "openblas" and "scipy.libs" in i["filepath"]]

    before = scipy_blas()
    with scipy_blas_one_thread:
        with scipy_blas_one_thread:  # nested / concurrent users share one limit
            assert scipy_blas() in ([], [1])
        assert scipy_blas() in ([], [1])
    assert scipy_blas() == before
    with numpy_blas_one_thread:
        pass
    assert scipy_blas() == before
