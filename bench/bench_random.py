"""Sampling kernels against numpy's Generator and the memory-write floor.

Run: pytest bench/bench_random.py --benchmark-only [-k 16384] [--benchmark-columns=median,...]
Every timed call allocates a fresh output (as an initializer does), so page faults count.
Groups `<kind>-<rows>x<cols>` hold densekit, numpy and `np.empty(shape).fill(1.0)`;
group `threads` holds uniform at n_threads=1 and 2 on (8192, 8192).
"""

import resource
import statistics
import tracemalloc

import numpy as np
import pytest

from densekit._lib import _random

SHAPES = [(4096, 4096), (16384, 16384)]
KINDS = {"uniform": _random.UNIFORM, "normal": _random.NORMAL,
         "truncated_normal": _random.TRUNCATED_NORMAL}
N_THREADS = 2


def _rounds(shape, impl):
    # numpy takes seconds per 16384^2 call; the fast contenders get more rounds (noisy machine).
    if shape[0] * shape[1] > 10**8:
        return 3 if impl == "numpy" else 7
    return 10


def densekit_sample(kind, shape, n_threads=N_THREADS, dtype=np.float32):
    out = np.empty(shape, dtype)
    n = out.size
    _random.fill(kind, out.reshape(1, n), 1234, 0, n, 0.0, 1.0, n_threads)
    return out


def numpy_sample(name, shape, rng):
    if name == "uniform":
        return rng.random(shape, dtype=np.float32)
    x = rng.standard_normal(shape, dtype=np.float32)
    if name == "truncated_normal":
        # The usual vectorized rejection loop: redraw the rejected values until none is left.
        flat = x.reshape(-1)
        bad = np.flatnonzero(np.abs(flat) > 2)
        while bad.size:
            flat[bad] = rng.standard_normal(bad.size, dtype=np.float32)
            bad = bad[np.abs(flat[bad]) > 2]
    return x


def fill_floor(shape):
    out = np.empty(shape, np.float32)
    out.fill(1.0)
    return out


def _with_cpu_time(fn, record):
    """fn, also recording each call's process CPU time (user + sys, all threads) in record.

    On a shared machine wall time measures the scheduler as much as the code; CPU time
    does not, so the JSON keeps both (extra_info cpu_ms_median)."""

    def timed(*args):
        before = resource.getrusage(resource.RUSAGE_SELF)
        out = fn(*args)
        after = resource.getrusage(resource.RUSAGE_SELF)
        record.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        return out

    return timed


def _peak_extra_bytes(fn, *args):
    """tracemalloc peak of one call beyond its result (numpy reports its allocations)."""
    tracemalloc.start()
    try:
        out = fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - out.nbytes


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("impl", ["densekit", "numpy", "fill_floor"])
def test_sampling(benchmark, name, shape, impl):
    benchmark.group = f"{name}-{shape[0]}x{shape[1]}"
    benchmark.extra_info.update(shape=shape, n_threads=N_THREADS, simd=_random.simd_level())
    if impl == "densekit":
        fn, args = densekit_sample, (KINDS[name], shape)
        benchmark.extra_info["peak_extra_bytes"] = _peak_extra_bytes(fn, *args)
    elif impl == "numpy":
        fn, args = numpy_sample, (name, shape, np.random.default_rng(0))
    else:
        fn, args = fill_floor, (shape,)
    cpu = []
    out = benchmark.pedantic(_with_cpu_time(fn, cpu), args=args, rounds=_rounds(shape, impl),
                             iterations=1, warmup_rounds=0 if impl == "numpy" else 1)
    benchmark.extra_info["cpu_ms_median"] = 1e3 * statistics.median(cpu)
    assert out.shape == shape and out.dtype == np.float32
    if impl == "densekit" and name == "truncated_normal":
        assert np.abs(out).max() <= 2
    if impl == "densekit":
        assert benchmark.extra_info["peak_extra_bytes"] < 32 * 2**20


@pytest.mark.parametrize("n_threads", [1, 2])
def test_threads(benchmark, n_threads):
    benchmark.group = "threads"
    shape = (8192, 8192)
    benchmark.extra_info.update(shape=shape, n_threads=n_threads)
    cpu = []
    out = benchmark.pedantic(_with_cpu_time(densekit_sample, cpu),
                             args=(_random.UNIFORM, shape, n_threads),
                             rounds=10, iterations=1, warmup_rounds=1)
    benchmark.extra_info["cpu_ms_median"] = 1e3 * statistics.median(cpu)
    assert out.shape == shape
