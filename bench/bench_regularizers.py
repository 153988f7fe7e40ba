"""L2/L1 penalties on 1e8 float32 values against numpy, 2 threads.

Run: pytest bench/bench_regularizers.py --benchmark-only
"""

import numpy as np
import pytest

from densekit.regularizers import L1, L2, OrthogonalRegularizer

N_THREADS = 2
N = 10**8
_cache = {}


def values():
    if "x" not in _cache:
        _cache["x"] = np.random.default_rng(0).standard_normal(N, dtype=np.float32)
    return _cache["x"]


def run(benchmark, fn, rounds=5):
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize(
    "impl", ["densekit", "densekit-1thread", "numpy-sum-square", "numpy-dot", "floor-numpy-sum"]
)
def test_l2_1e8(benchmark, impl):
    benchmark.group = "L2 penalty, 1e8 float32"
    benchmark.extra_info.update(n=N, n_threads=N_THREADS, impl=impl)
    x = values()
    if impl.startswith("densekit"):
        reg = L2(1.0)
        n = 1 if impl.endswith("1thread") else N_THREADS
        value = run(benchmark, lambda: reg(x, n_threads=n))
    elif impl == "numpy-sum-square":  # what Keras' numpy backend computes (then times l2)
        value = float(run(benchmark, lambda: np.sum(np.square(x))))
    elif impl == "numpy-dot":  # BLAS sdot: float32 accumulation, no temporary
        value = float(run(benchmark, lambda: np.dot(x, x)))
    else:  # Not an L2: one pairwise float32 read pass (numpy, 1 thread), a memory floor.
        run(benchmark, lambda: np.sum(x))
        return
    assert abs(value - N) < 0.01 * N  # E[x^2] = 1


@pytest.mark.parametrize("impl", ["densekit", "numpy-sum-abs"])
def test_l1_1e8(benchmark, impl):
    benchmark.group = "L1 penalty, 1e8 float32"
    x = values()
    if impl == "densekit":
        reg = L1(1.0)
        value = run(benchmark, lambda: reg(x, n_threads=N_THREADS))
    else:
        value = float(run(benchmark, lambda: np.sum(np.abs(x))))
    assert abs(value - N * np.sqrt(2 / np.pi)) < 0.01 * N


@pytest.mark.parametrize("impl", ["densekit", "densekit-gradient", "numpy-keras"])
def test_orthogonal_1024x512(benchmark, impl):
    benchmark.group = "OrthogonalRegularizer rows, float32 1024x512"
    x = np.random.default_rng(1).standard_normal((1024, 512), dtype=np.float32)
    reg = OrthogonalRegularizer(0.01)
    if impl == "densekit":
        value = run(benchmark, lambda: reg(x, n_threads=N_THREADS), rounds=10)
    elif impl == "densekit-gradient":
        run(benchmark, lambda: reg.gradient(x, n_threads=N_THREADS), rounds=10)
        value = reg(x)
    else:
        def fn():  # Keras' rows mode on the numpy backend, float32 throughout
            y = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-7)
            p = y @ y.T
            size = p.shape[0]
            p = p * (1.0 - np.eye(size, dtype=np.float32))
            return 0.01 * 0.5 * np.sum(np.abs(p)) / (size * (size - 1) * 0.5)

        value = float(run(benchmark, fn, rounds=10))
    assert 0 < value < 0.01


def _cpu_report():
    """`python bench/bench_regularizers.py`: wall and CPU time (process_time, all
    threads) per call, min of 7 (see bench_constraints._cpu_report)."""
    import time

    def measure(fn, n=7):
        walls, cpus = [], []
        fn()
        for _ in range(n):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        return min(walls) * 1e3, min(cpus) * 1e3

    x = values()
    reg = L2(1.0)
    cases = {
        "numpy np.sum(np.square(x))": lambda: np.sum(np.square(x)),
        "densekit 1 thread": lambda: reg(x, n_threads=1),
        "densekit 2 threads": lambda: reg(x, n_threads=N_THREADS),
    }
    print(f"{'case':40s} {'wall ms':>9s} {'cpu ms':>9s}")
    for name, fn in cases.items():
        wall, cpu = measure(fn)
        print(f"L2 1e8 float32 {name:26s} {wall:9.1f} {cpu:9.1f}")


if __name__ == "__main__":
    _cpu_report()
