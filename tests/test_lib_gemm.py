"""The float32 FMA product of Dense (src/densekit/_lib/src/dk_gemm.c).

Its contract: every output is one fused multiply-add per k, in k order, from 0, then
the bias and the activation. So it equals the scalar fmaf reference bit for bit at
every instruction set this CPU has, for every thread count, and a row's bits do not
depend on the batch it comes in.
"""

import numpy as np
import pytest

from densekit import activations
from densekit._lib import _dense
from densekit.layers import Dense, Input
from densekit.models import Sequential

LEVELS = [lv for lv in (2, 3) if lv <= _dense.FMA_LEVEL]

# (m, k, n): in-place w (few rows, or a small w), packed w with the output block in
# cache (k blocks outer) and not (column blocks outer), ragged row tiles and column
# tails of every width, k = 0, 1, and several k blocks of every block size (in-place w
# of at most 65536 values, of at most 2**20, and more); one row over a w of more than
# 2**20 values (streamed 8 rows of w at a time over chunks of 4096 columns when a task's
# columns of w hold at least 2**19 values), with k not a multiple of 8 and several chunks
# with a ragged last one; 1x600x1000 is streamed on one thread and tiled on several.
SHAPES = [
    (1, 1, 1), (1, 5, 3), (2, 33, 17), (3, 17, 70), (6, 257, 513), (1, 1100, 300),
    (3, 1100, 1000), (1, 1029, 1100), (1, 260, 9000), (1, 70001, 17),
    (1, 600, 1000),
    (2, 40, 2100), (7, 100, 130), (13, 333, 77), (7, 257, 513), (40, 300, 300),
    (300, 260, 300), (61, 600, 1030), (100, 70, 1000), (64, 300, 17), (9, 0, 5),
    (0, 4, 4), (4, 3, 0),
]


def _arrays(m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k), dtype=np.float32),
            rng.standard_normal((k, n), dtype=np.float32),
            rng.standard_normal(n, dtype=np.float32))


@pytest.mark.skipif(not LEVELS, reason="this CPU has no FMA: Dense uses BLAS (tested below)")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_equals_the_scalar_fma_reference_bit_for_bit(shape):
    x, w, b = _arrays(*shape)
    ref = np.empty((shape[0], shape[2]), np.float32)
    _dense.fma_product(x, w, b, ref, 0, 0.0, 0.0, 0.0, LEVELS[0], 1, reference=True)
    if ref.size:
        exact = x.astype(np.float64) @ w.astype(np.float64) + b
        scale = np.abs(x).astype(np.float64) @ np.abs(w).astype(np.float64) + np.abs(b)
        # each of the k steps rounds once: |error| <= k * eps * sum |x w| (and far less)
        assert np.all(np.abs(ref - exact) <= (shape[1] + 1) * 2.0 ** -23 * scale + 1e-30)
    for level in LEVELS:
        for n_threads in (1, 2, 3, 5):
            out = np.full_like(ref, np.nan)
            _dense.fma_product(x, w, b, out, 0, 0.0, 0.0, 0.0, level, n_threads)
            assert np.array_equal(out, ref), (level, n_threads)


# One row in the k pipeline: stages of contiguous rows of w passing y along in steps of
# 128 columns; a ragged last step, stages of unequal k ranges (k not a multiple of the
# stage count), k blocks of 64 with a ragged last one, a step narrower than a panel.
PIPE_SHAPES = [(1, 1024, 1024), (1, 777, 1000), (1, 130, 300), (1, 5, 70), (1, 200, 129),
               (1, 3, 1)]


@pytest.mark.skipif(not LEVELS, reason="this CPU has no FMA: Dense uses BLAS (tested below)")
@pytest.mark.parametrize("shape", PIPE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_the_k_pipeline_of_one_row_gives_the_references_bits(shape):
    x, w, b = _arrays(*shape, seed=5)
    ref = np.empty((1, shape[2]), np.float32)
    _dense.fma_product(x, w, b, ref, 1, 0.0, 0.0, 0.0, LEVELS[0], 1, reference=True)
    for level in LEVELS:
        for n_threads in (2, 3, 5):
            if shape[1] < n_threads:
                continue
            for pipeline in (True, None):
                out = np.full_like(ref, np.nan)
                _dense.fma_product(x, w, b, out, 1, 0.0, 0.0, 0.0, level, n_threads,
                                   pipeline=pipeline)
                assert np.array_equal(out, ref), (level, n_threads, pipeline)


def test_the_k_pipeline_refuses_what_it_cannot_run():
    x, w, b = _arrays(2, 8, 4)
    out = np.empty((2, 4), np.float32)
    for args in ((x, 2), (x[:1], 1), (x[:1, :1], 2)):
        xi, n_threads = args
        with pytest.raises(ValueError, match="pipeline"):
            _dense.fma_product(xi, w[:xi.shape[1]], b, out[:xi.shape[0]], 0, 0.0, 0.0, 0.0,
                               _dense.FMA_LEVEL or 3, n_threads, pipeline=True)


_SMALL_TEAM = """
import numpy as np
from densekit._lib import _dense
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 900), dtype=np.float32)
w = rng.standard_normal((900, 700), dtype=np.float32)
ref = np.empty((1, 700), np.float32)
_dense.fma_product(x, w, None, ref, 0, 0.0, 0.0, 0.0, _dense.FMA_LEVEL, 1, reference=True)
for n_threads in (2, 4, 7):
    out = np.empty_like(ref)
    _dense.fma_product(x, w, None, out, 0, 0.0, 0.0, 0.0, _dense.FMA_LEVEL, n_threads,
                       pipeline=True)
    assert np.array_equal(out, ref), n_threads
print("ok")
"""


@pytest.mark.skipif(not LEVELS, reason="this CPU has no FMA: Dense uses BLAS (tested below)")
@pytest.mark.parametrize("limit", ["1", "2"])
def test_the_k_pipeline_completes_in_a_team_smaller_than_its_stages(limit):
    # Each stage waits for the one before it: with OpenMP held to fewer threads than
    # stages, a thread runs its stages in order and the product still completes.
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_THREAD_LIMIT=limit)
    done = subprocess.run([sys.executable, "-c", _SMALL_TEAM], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.skipif(not LEVELS, reason="this CPU has no FMA: Dense uses BLAS (tested below)")
@pytest.mark.parametrize("name", ["relu", "gelu", "tanh", "leaky_relu", "silu"])
def test_the_epilogue_is_the_activation_of_the_biased_sum(name):
    fn = activations.get(name)
    code, *params = activations.fused_code(fn)
    x, w, b = _arrays(50, 700, 129, seed=3)
    linear = np.empty((50, 129), np.float32)
    _dense.fma_product(x, w, b, linear, 0, 0.0, 0.0, 0.0, LEVELS[-1], 2)
    for level in LEVELS:
        out = np.empty_like(linear)
        _dense.fma_product(x, w, b, out, code, *params, level, 2)
        assert np.array_equal(out, fn(linear))


def test_unavailable_levels_and_bad_arguments_are_refused():
    x, w, b = _arrays(2, 3, 4)
    out = np.empty((2, 4), np.float32)
    with pytest.raises(ValueError, match="not available"):
        _dense.fma_product(x, w, b, out, 0, 0.0, 0.0, 0.0, _dense.FMA_LEVEL + 1, 1)
    with pytest.raises(ValueError, match="shapes"):
        _dense.fma_product(x, w[:2], b, out, 0, 0.0, 0.0, 0.0, 3, 1)
    softmax = activations.fused_code(activations.softmax)[0]
    with pytest.raises(ValueError, match="elementwise"):
        _dense.fma_product(x, w, b, out, softmax, 0.0, 0.0, 0.0, 3, 1)


@pytest.mark.parametrize("units, input_dim",
                         [(64, 64), (300, 1030), (8, 16), (1000, 70), (1100, 1030), (1024, 1024)])
def test_a_rows_bits_do_not_depend_on_its_batch_or_the_threads(units, input_dim):
    layer = Dense(units, activation="relu")
    layer.build((None, input_dim))
    x = np.random.default_rng(1).standard_normal((37, input_dim), dtype=np.float32)
    whole = layer(x)
    reference = np.maximum(x.astype(np.float64) @ layer.kernel + layer.bias, 0)
    np.testing.assert_allclose(whole, reference, rtol=1e-4, atol=1e-4)
    if _dense.FMA_LEVEL:
        # The FMA product: one row, any slice of rows and any thread count give the bits
        # of the same rows in the whole batch.
        for n_threads in (1, 2, 3):
            assert np.array_equal(layer(x, n_threads=n_threads), whole)
        for i in (0, 5, 36):
            assert np.array_equal(layer(x[i:i + 1]), whole[i:i + 1])
        assert np.array_equal(layer(x[3:20]), whole[3:20])


def test_predict_and_call_agree_bit_for_bit():
    model = Sequential([Input((70,)), Dense(300, activation="relu"), Dense(129, activation="gelu"),
                        Dense(10, activation="softmax")])
    x = np.random.default_rng(2).standard_normal((200, 70), dtype=np.float32)
    called = model(x)
    assert np.array_equal(model.predict(x, verbose=0), called)
    assert np.array_equal(model.predict(x, batch_size=7, verbose=0), called)
    np.testing.assert_allclose(called.sum(axis=1), 1.0, rtol=1e-5)
    model.compile(optimizer="sgd", loss="mse")
    # evaluate runs the training forward (dense_forward; BLAS for the 70x300 and
    # 300x129 kernels): the loss of predict's outputs to float32 rounding
    y = np.zeros((200, 10), np.float32)
    loss = model.evaluate(x, y, batch_size=200, verbose=0)
    np.testing.assert_allclose(loss, np.mean(called.astype(np.float64) ** 2), rtol=1e-5)


def test_small_kernels_train_on_the_product_of_predict():
    # kernels of at most 4096 values: the training forward is the product of predict
    model = Sequential([Input((16,)), Dense(32, activation="relu"), Dense(16, activation="relu"),
                        Dense(8)])
    x = np.random.default_rng(4).standard_normal((64, 16), dtype=np.float32)
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((64, 8), np.float32)
    loss = model.evaluate(x, y, batch_size=64, verbose=0)
    pred = model.predict(x, verbose=0).astype(np.float64)
    np.testing.assert_allclose(loss, np.mean(pred ** 2), rtol=1e-6)


def _rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not LEVELS, reason="this CPU has no FMA: Dense uses BLAS (tested above)")
def test_short_lived_threads_do_not_leak_packing_buffers():
    import threading

    # 100 rows of a 300x1100 kernel: the packed path with 1024-column blocks, on the
    # calling thread (n_threads=1), which fills its whole 1 MiB packing buffer; the
    # buffer must be freed when the thread exits.
    x, w, b = _arrays(100, 300, 1100)
    ref = np.empty((100, 1100), np.float32)
    _dense.fma_product(x, w, b, ref, 0, 0.0, 0.0, 0.0, LEVELS[-1], 1)
    results = []

    def work():
        out = np.empty_like(ref)
        _dense.fma_product(x, w, b, out, 0, 0.0, 0.0, 0.0, LEVELS[-1], 1)
        results.append(np.array_equal(out, ref))

    before = _rss_mib()
    for _ in range(300):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert all(results) and len(results) == 300
    # a buffer kept per thread would be 300 MiB
    assert _rss_mib() - before < 64


@pytest.mark.skipif(not LEVELS, reason="this CPU has no FMA: Dense uses BLAS (tested below)")
@pytest.mark.parametrize("shape", [(4096, 64, 64), (13, 70, 37), (1, 1029, 1100), (300, 260, 300),
                                   (1, 1024, 1024), (7, 5, 3)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("with_bias", [True, False])
def test_the_vector_epilogue_of_bias_and_relu_keeps_the_row_epilogues_bits(shape, with_bias):
    # Linear with a bias, and the plain relu, run in vectors inside the product; the
    # reference takes the row-by-row activation. Sums of exactly 0, -0, +-inf and NaN
    # (from the bias and from x) must come out the same: relu(-0) = +0, relu(NaN) = NaN.
    m, k, n = shape
    x, w, b = _arrays(m, k, n, seed=11)
    x[0, 0] = np.nan if m > 1 else x[0, 0]
    b[: min(n, 4)] = [np.inf, -np.inf, np.nan, -0.0][: min(n, 4)]
    x[-1] = 0.0  # the last row sums to exactly +0: + (-0) bias stays +0, relu(+0) = +0
    bias = b if with_bias else None
    for code in (0, 1):
        ref = np.empty((m, n), np.float32)
        _dense.fma_product(x, w, bias, ref, code, 0.0, np.nan, 0.0, LEVELS[0], 1,
                           reference=True)
        for level in LEVELS:
            for n_threads in (1, 2, 3):
                out = np.full_like(ref, 7.0)
                _dense.fma_product(x, w, bias, out, code, 0.0, np.nan, 0.0, level, n_threads,
                                   pipeline=None)
                assert np.array_equal(out.view(np.uint32), ref.view(np.uint32)), (code, level,
                                                                                  n_threads)
