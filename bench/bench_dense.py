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
from densekit.layers import Dense
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
    model.add(Dense(32, input_shape=(16,), kernel_initializer="he_uniform",
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
