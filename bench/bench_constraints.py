"""MaxNorm (and UnitNorm) against the numpy expression Keras uses, float32, 2 threads.

Run: pytest bench/bench_constraints.py --benchmark-only
Groups put densekit (new output, and in place with out=w) beside numpy.
"""

import numpy as np
import pytest

from densekit.constraints import MaxNorm, UnitNorm

N_THREADS = 2
SHAPES = [(256, 256), (4096, 4096), (16384, 4096)]
_cache = {}


def weights(shape):
    # One array per shape for the whole session: generating 256 MB is slower than the kernels.
    if shape not in _cache:
        _cache.clear()
        rng = np.random.default_rng(0)
        _cache[shape] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
    return _cache[shape]


def keras_max_norm(w, max_value=2.0, axis=0):
    """keras.constraints.MaxNorm.__call__ on the numpy backend, written out."""
    norms = np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))
    desired = np.clip(norms, 0, max_value)
    return w * (desired / (1e-7 + norms))


def keras_max_norm_literal(w, max_value=2.0, axis=0):
    """The issue's expression, w * clip(norms, 0, m) / (1e-7 + norms), as written."""
    norms = np.sqrt(np.sum(w * w, axis=axis, keepdims=True))
    return w * np.clip(norms, 0, max_value) / (1e-7 + norms)


def run(benchmark, fn, shape):
    rounds = 5 if shape[0] * shape[1] >= 2**24 else 30
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "impl",
    ["densekit", "densekit-inplace", "densekit-1thread", "densekit-inplace-1thread",
     "numpy-keras", "numpy-keras-literal", "floor-numpy-scale-inplace"],
)
def test_max_norm(benchmark, shape, impl):
    benchmark.group = f"MaxNorm axis=0 float32 {shape[0]}x{shape[1]}"
    benchmark.extra_info.update(shape=shape, n_threads=N_THREADS, impl=impl)
    w = weights(shape)
    c = MaxNorm(2.0, axis=0)
    n = 1 if impl.endswith("1thread") else N_THREADS
    if impl.startswith("densekit-inplace"):
        # Repeated in-place calls do the same work (norms and a full rescale) each round.
        work = w.copy()
        result = run(benchmark, lambda: c(work, out=work, n_threads=n), shape)
    elif impl.startswith("densekit"):
        result = run(benchmark, lambda: c(w, n_threads=n), shape)
    elif impl == "floor-numpy-scale-inplace":
        # Not a MaxNorm: one read+write pass in place (numpy, 1 thread), a memory floor.
        work = w.copy()
        one = np.float32(1.0)
        result = run(benchmark, lambda: np.multiply(work, one, out=work), shape)
        return
    elif impl == "numpy-keras":
        result = run(benchmark, lambda: keras_max_norm(w), shape)
    else:
        result = run(benchmark, lambda: keras_max_norm_literal(w), shape)
    assert result.dtype == np.float32 and result.shape == shape
    assert np.all(np.sqrt(np.sum(np.square(result, dtype=np.float64), axis=0)) <= 2.0 + 1e-5)


@pytest.mark.parametrize("impl", ["densekit", "numpy-keras"])
def test_unit_norm_rows(benchmark, impl):
    shape = (4096, 4096)
    benchmark.group = "UnitNorm axis=-1 float32 4096x4096"
    w = weights(shape)
    if impl == "densekit":
        c = UnitNorm(axis=-1)
        result = run(benchmark, lambda: c(w, n_threads=N_THREADS), shape)
    else:
        def fn():
            norms = np.sqrt(np.sum(np.square(w), axis=-1, keepdims=True))
            return w / (1e-7 + norms)

        result = run(benchmark, fn, shape)
    assert result.dtype == np.float32
    assert np.allclose(np.linalg.norm(result[:4].astype(np.float64), axis=1), 1.0, rtol=1e-5)


def _cpu_report():
    """`python bench/bench_constraints.py`: wall and CPU time (process_time, all threads)
    per call, min of 7. On a shared machine the wall time includes waiting for a
    CPU; the CPU time is the work actually done."""
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

    c = MaxNorm(2.0, axis=0)
    print(f"{'case':48s} {'wall ms':>9s} {'cpu ms':>9s}")
    for shape in SHAPES[1:]:
        w = weights(shape)
        work = w.copy()
        cases = {
            "numpy-keras": lambda: keras_max_norm(w),
            "densekit 1 thread": lambda: c(w, n_threads=1),
            "densekit 2 threads": lambda: c(w, n_threads=N_THREADS),
            "densekit in place 1 thread": lambda: c(work, out=work, n_threads=1),
            "densekit in place 2 threads": lambda: c(work, out=work, n_threads=N_THREADS),
        }
        for name, fn in cases.items():
            wall, cpu = measure(fn)
            print(f"MaxNorm {shape[0]}x{shape[1]} {name:30s} {wall:9.1f} {cpu:9.1f}")


if __name__ == "__main__":
    _cpu_report()
