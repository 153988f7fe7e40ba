"""densekit._lib._constraints kernels: partition edges, float64 accumulation, threads."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit._lib import _constraints as k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape",
    # (outer, red, inner) around the 1024-column chunk, the 32-row block minimum and
    # the 64-task target, plus degenerate sizes.
    [(1, 1, 2), (1, 31, 1023), (1, 33, 1024), (1, 257, 1025), (2, 100, 2049), (3, 5, 7),
     (70, 3, 2), (1, 4099, 3), (1, 1, 5000), (1, 10, 70000), (2, 3, 5000)],
)
def test_sq_norms_blocks(shape, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    expected = np.sum(x.astype(np.float64) ** 2, axis=1)
    results = [k.sq_norms(x, n) for n in (1, 2, 3, 4, 7)]
    assert results[0].dtype == np.float64 and results[0].shape == (shape[0], shape[2])
    assert_allclose(results[0], expected, rtol=1e-13)
    for r in results[1:]:
        assert_array_equal(r, results[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (2, 8191), (2, 8192), (3, 8193), (1, 50000),
                                   (1000, 9), (70000, 3), (3000, 40)])
def test_sq_norms_rows_chunks(shape, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    expected = np.sum(x.astype(np.float64) ** 2, axis=1, keepdims=True)
    results = [k.sq_norms_rows(x, n) for n in (1, 2, 4)]
    assert_allclose(results[0], expected, rtol=1e-13)
    for r in results[1:]:
        assert_array_equal(r, results[0])


def test_float32_squares_accumulate_in_float64():
    # 2**20 values of 1 + 2**-12: a float32 accumulator would lose the small part.
    x = np.full((1, 2**20), 1 + 2.0**-12, dtype=np.float32)
    exact = 2**20 * (1 + 2.0**-12) ** 2
    assert k.sq_norms_rows(x, 2)[0, 0] == exact
    assert k.sq_norms(x.reshape(1, 2**10, 2**10), 2).sum() == exact


def test_empty_shapes():
    assert k.sq_norms(np.zeros((0, 3, 4)), 2).shape == (0, 4)
    assert_array_equal(k.sq_norms(np.zeros((2, 0, 4)), 2), np.zeros((2, 4)))
    assert_array_equal(k.sq_norms_rows(np.zeros((3, 0)), 2), np.zeros((3, 1)))


def test_factors_formulas_and_nan():
    sq = np.array([[0.0, 0.25, 4.0, 100.0, np.inf, np.nan]])
    n = np.sqrt(sq)
    with np.errstate(invalid="ignore"):
        cases = [
            (k.MAX_NORM, 2.0, 0.0, 1.0, np.clip(n, 0, 2.0) / (1e-7 + n)),
            (k.MIN_MAX_NORM, 1.0, 3.0, 0.4, (0.4 * np.clip(n, 1.0, 3.0) + 0.6 * n) / (1e-7 + n)),
            (k.UNIT_NORM, 0.0, 0.0, 1.0, 1 / (1e-7 + n)),
        ]
    for kind, a, b, rate, expected in cases:
        f = sq.copy()
        k.factors(f, kind, a, b, rate)
        assert_allclose(f, expected, rtol=1e-15)
        assert np.isnan(f[0, -1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rescale_rounds_once_and_works_in_place(dtype, n_threads):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 50, 20000)).astype(dtype)  # 20000 columns: two column chunks
    f = rng.uniform(0.1, 3, size=(3, 20000))
    expected = (x.astype(np.float64) * f[:, None, :]).astype(dtype)
    out = np.empty_like(x)
    k.rescale(x, f, out, n_threads)
    assert_array_equal(out, expected)
    k.rescale(x, f, x, n_threads)
    assert_array_equal(x, expected)
    # Few rows, long ones: tasks split the columns into spans.
    x = rng.standard_normal((1, 6, 70001)).astype(dtype)
    f = rng.uniform(0.1, 3, size=(1, 70001))
    expected = (x.astype(np.float64) * f[:, None, :]).astype(dtype)
    k.rescale(x, f, x, n_threads)
    assert_array_equal(x, expected)
    # Long rows (FLAT_CHUNK pieces), short rows grouped per task, and tiny rows.
    for shape in [(4, 40000), (3000, 40), (50000, 3)]:
        x2 = rng.standard_normal(shape).astype(dtype)
        f2 = rng.uniform(0.1, 3, size=shape[0])
        expected2 = (x2.astype(np.float64) * f2[:, None]).astype(dtype)
        out2 = np.empty_like(x2)
        k.rescale_rows(x2, f2, out2, n_threads)
        assert_array_equal(out2, expected2)
        k.rescale_rows(x2, f2, x2, n_threads)
        assert_array_equal(x2, expected2)


def test_nonneg_kernel(n_threads):
    x = np.array([-1.0, -0.0, 0.0, 2.0, np.nan, -np.inf, np.inf] * 5000, dtype=np.float32)
    out = np.empty_like(x)
    k.nonneg(x, out, n_threads)
    assert_array_equal(out, np.maximum(x, 0))
