"""Activations against their numpy/scipy expressions, float32 (4096, 4096), 2 threads.

Run: pytest bench/bench_activations.py --benchmark-only
Each group puts densekit beside the numpy baseline; compare medians within one run.
The `copy` rows are the memory-speed floor for a fresh 64 MiB output.
"""

import math

import numpy as np
import pytest
import scipy.special as sp

from densekit import activations

SHAPE = (4096, 4096)
N_THREADS = 2
ROUNDS = 9


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)


def _run(benchmark, group, fn):
    benchmark.group = group
    benchmark.extra_info.update(shape=SHAPE, dtype="float32", n_threads=N_THREADS)
    return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


SQRT2 = np.float32(math.sqrt(2))

CASES = {
    # group: (densekit function, numpy baseline)
    "relu": (activations.relu, lambda x: np.maximum(x, 0)),
    "gelu": (activations.gelu, lambda x: 0.5 * x * (1 + sp.erf(x / SQRT2))),
    "silu": (activations.silu, lambda x: x / (1 + np.exp(-x))),
    "softmax": (activations.softmax, _np_softmax),
}


# n_threads=1 is there too: on a shared machine it shows the per-core speed.
@pytest.mark.parametrize("n_threads", [N_THREADS, 1])
@pytest.mark.parametrize("group", sorted(CASES))
def test_densekit(benchmark, x, group, n_threads):
    fn = CASES[group][0]
    result = _run(benchmark, group, lambda: fn(x, n_threads=n_threads))
    np.testing.assert_allclose(result, CASES[group][1](x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("group", sorted(CASES))
def test_numpy(benchmark, x, group):
    result = _run(benchmark, group, lambda: CASES[group][1](x))
    assert result.shape == SHAPE


def test_copy_floor(benchmark, x):
    """x.copy(): read 64 MiB, write a fresh 64 MiB array (the memory-speed floor)."""
    result = _run(benchmark, "relu", x.copy)
    assert result.shape == SHAPE


def test_relu_out_densekit(benchmark, x):
    out = np.empty_like(x)
    _run(benchmark, "relu-out", lambda: activations.relu(x, out=out, n_threads=N_THREADS))
    np.testing.assert_array_equal(out, np.maximum(x, 0))


def test_relu_out_numpy(benchmark, x):
    out = np.empty_like(x)
    _run(benchmark, "relu-out", lambda: np.maximum(x, 0, out=out))


def test_copyto_floor(benchmark, x):
    out = np.empty_like(x)
    _run(benchmark, "relu-out", lambda: np.copyto(out, x))


def _interleaved_table(rounds=9):
    """Medians with the variants interleaved round by round, so that each sees the
    same background load (pytest-benchmark runs them one after another)."""
    import time

    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    print("| group | numpy (ms) | densekit 1 thread | densekit 2 threads | x.copy() |")
    print("|---|---|---|---|---|")
    for group, (fn, base) in CASES.items():
        runs = {
            "np": lambda: base(x),
            1: lambda: fn(x, n_threads=1),
            2: lambda: fn(x, n_threads=2),
            "copy": x.copy,
        }
        times = {k: [] for k in runs}
        for _ in range(rounds):
            for k, run in runs.items():
                t0 = time.perf_counter()
                run()
                times[k].append(time.perf_counter() - t0)
        med = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
        print(
            f"| {group} | {med['np']:.1f} | {med[1]:.1f} ({med['np'] / med[1]:.2f}x) "
            f"| {med[2]:.1f} ({med['np'] / med[2]:.2f}x) | {med['copy']:.1f} |"
        )


if __name__ == "__main__":
    _interleaved_table()
