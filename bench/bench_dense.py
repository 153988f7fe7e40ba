"""Dense forward and Sequential.predict against numpy.

Run: pytest bench/bench_dense.py --benchmark-only
Groups:
  dense-4096-relu   Dense(4096, relu) on a (4096, 4096) float32 batch, beside
                    numpy's raw `np.matmul(x, W, out=out)` (the GEMM floor) and
                    the numpy expression `np.maximum(x @ W + b, 0)`.
  predict-tutorial  Sequential.predict on the tutorial model (16->32->16->8) for
                    1e6 rows, beside one numpy forward pass over the whole array.
"""

import numpy as np
import pytest

from densekit._lib import _dense
from densekit.activations import fused_code, relu
from densekit.layers import Dense, Input
from densekit.models import Sequential

try:
    from conftest import ratio_note
except ImportError:  # pragma: no cover - run from another directory
    def ratio_note(benchmark, **extra):
        benchmark.extra_info.update(extra)

N = 4096
ROUNDS = 5


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, N), dtype=np.float32)
    layer = Dense(N, activation="relu")
    layer.build((None, N))
    layer.set_weights([rng.standard_normal((N, N), dtype=np.float32) * 0.02,
                       rng.standard_normal(N, dtype=np.float32)])
    return x, layer


def _run(benchmark, fn):
    return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def test_dense_relu_densekit(benchmark, big):
    benchmark.group = "dense-4096-relu"
    x, layer = big
    y = _run(benchmark, lambda: layer(x))
    ratio_note(benchmark, shape=(N, N, N), what="Dense(4096, relu)(x), fresh output")
    ref = np.maximum(x @ layer.kernel + layer.bias, 0)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_dense_relu_densekit_into_out(benchmark, big):
    benchmark.group = "dense-4096-relu"
    x, layer = big
    out = np.empty((N, N), np.float32)
    code, p0, p1, p2 = fused_code(relu)
    _run(benchmark, lambda: _dense.dense_forward(x, layer.kernel, layer.bias, out,
                                                 code, p0, p1, p2, 2))
    ratio_note(benchmark, what="fused kernel into a preallocated out")


def test_dense_relu_numpy_matmul_floor(benchmark, big):
    benchmark.group = "dense-4096-relu"
    x, layer = big
    w = layer.kernel
    out = np.empty((N, N), np.float32)
    _run(benchmark, lambda: np.matmul(x, w, out=out))
    ratio_note(benchmark, what="np.matmul(x, W, out=out): GEMM only, no bias/relu")


def test_dense_relu_numpy_expression(benchmark, big):
    benchmark.group = "dense-4096-relu"
    x, layer = big
    w, b = layer.kernel, layer.bias
    _run(benchmark, lambda: np.maximum(x @ w + b, 0))
    ratio_note(benchmark, what="np.maximum(x @ W + b, 0)")


ROWS = 1_000_000


@pytest.fixture(scope="module")
def tutorial():
    model = Sequential()
    model.add(Input(shape=(16,)))  # input_shape= on a layer warns, as in Keras 3
    model.add(Dense(32, kernel_initializer="he_uniform",
                    kernel_constraint="MaxNorm", activation="relu"))
    model.add(Dense(16, activation="relu"))
    model.add(Dense(8))
    rng = np.random.default_rng(1)
    model.set_weights([rng.standard_normal(w.shape, dtype=np.float32) * 0.3
                       for w in model.weights])
    x = rng.standard_normal((ROWS, 16), dtype=np.float32)
    return model, x


def _numpy_forward(model, x):
    (w1, b1), (w2, b2), (w3, b3) = [layer.weights for layer in model.layers]
    return np.maximum(np.maximum(x @ w1 + b1, 0) @ w2 + b2, 0) @ w3 + b3


def test_predict_tutorial_densekit(benchmark, tutorial):
    benchmark.group = "predict-tutorial"
    model, x = tutorial
    y = _run(benchmark, lambda: model.predict(x, batch_size=32, verbose=0))
    ratio_note(benchmark, rows=ROWS, what="Sequential.predict(x, batch_size=32)")
    np.testing.assert_allclose(y, _numpy_forward(model, x), rtol=1e-4, atol=1e-4)


def test_predict_tutorial_numpy(benchmark, tutorial):
    benchmark.group = "predict-tutorial"
    model, x = tutorial
    _run(benchmark, lambda: _numpy_forward(model, x))
    ratio_note(benchmark, rows=ROWS, what="one numpy forward pass over all rows")


def _report(rounds=7):
    """`python bench/bench_dense.py`: the same cases, rounds interleaved (each round
    runs every case once), so that a shared machine's load drifts over all of them
    alike. Prints min and median wall time and median CPU time (process_time,
    all threads; spinning BLAS/OpenMP threads count too) and the ratios the issue asks for."""
    import time

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, N), dtype=np.float32)
    layer = Dense(N, activation="relu")
    layer.build((None, N))
    layer.set_weights([rng.standard_normal((N, N), dtype=np.float32) * 0.02,
                       rng.standard_normal(N, dtype=np.float32)])
    w, b = layer.kernel, layer.bias
    out = np.empty((N, N), np.float32)
    model = Sequential()
    model.add(Input(shape=(16,)))
    model.add(Dense(32, activation="relu"))
    model.add(Dense(16, activation="relu"))
    model.add(Dense(8))
    xs = rng.standard_normal((ROWS, 16), dtype=np.float32)
    groups = {
        "dense 4096x4096x4096 relu": {
            "densekit Dense(4096, relu)(x)": lambda: layer(x),
            "numpy matmul(x, W, out=out)": lambda: np.matmul(x, w, out=out),
            "numpy maximum(x @ W + b, 0)": lambda: np.maximum(x @ w + b, 0),
        },
        "tutorial 16->32->16->8, 1e6 rows": {
            "densekit predict(x)": lambda: model.predict(xs, verbose=0),
            "numpy forward pass": lambda: _numpy_forward(model, xs),
        },
    }
    for title, cases in groups.items():
        walls = {name: [] for name in cases}
        cpus = {name: [] for name in cases}
        for fn in cases.values():
            fn()  # warm up
        names = list(cases)
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                w0, c0 = time.perf_counter(), time.process_time()
                cases[name]()
                walls[name].append(time.perf_counter() - w0)
                cpus[name].append(time.process_time() - c0)
        print(f"\n{title} ({rounds} interleaved rounds)")
        print(f"{'case':34s} {'min s':>8s} {'median s':>9s} {'cpu med s':>10s}")
        for name in names:
            print(f"{name:34s} {min(walls[name]):8.4f} {np.median(walls[name]):9.4f} "
                  f"{np.median(cpus[name]):10.4f}")
        first = names[0]
        for name in names[1:]:
            print(f"  {name} / {first}: min {min(walls[name]) / min(walls[first]):.2f}, "
                  f"median {np.median(walls[name]) / np.median(walls[first]):.2f}")
        if "predict" in first:
            print(f"  rows/s: densekit {ROWS / np.median(walls[first]):,.0f}, numpy "
                  f"{ROWS / np.median(walls[names[1]]):,.0f}")


if __name__ == "__main__":
    _report()
