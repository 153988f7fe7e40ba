"""densekit._lib._dense.dense_backward / dense_backward_act against numpy."""

import functools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit import activations
from densekit._lib import _activations as _k
from densekit._lib import _dense

SHAPES = [
    (0, 3, 4),     # no rows
    (1, 3, 4),     # one row
    (5, 1, 4),     # k = 1
    (5, 3, 1),     # u = 1
    (7, 0, 3),     # k = 0
    (7, 3, 0),     # u = 0
    (33, 17, 9),
    (700, 40, 30),   # several bias blocks, parallel path; the direct small kernel
    (3000, 5, 20),
    (300, 70, 80),   # kernel above SMALL_KERNEL_SIZE: BLAS
    (1200, 40, 30),  # small kernel, work above SMALL_BACKWARD_WORK_SIZE: BLAS
]


def test_the_shapes_cover_both_paths():
    small = [k * u <= _dense.SMALL_KERNEL_SIZE and n * k * u <= _dense.SMALL_BACKWARD_WORK_SIZE
             for n, k, u in SHAPES]
    assert any(small) and not all(small)


def _data(n, k, u, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, u)).astype(dtype)
    dz = rng.standard_normal((n, u)).astype(dtype)
    return x, w, dz


def _tol(dtype, n=1):
    # float32 sums of n products: rounding grows with the length of the sum
    if dtype == np.float32:
        return dict(rtol=1e-5, atol=1e-5 + 2e-7 * n)
    return dict(rtol=1e-12, atol=1e-12 * (1 + n))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_backward_matches_numpy(shape, dtype, n_threads):
    n, k, u = shape
    x, w, dz = _data(n, k, u, dtype)
    dx = np.full((n, k), np.nan, dtype)
    dw = np.full((k, u), np.nan, dtype)
    db = np.full(u, np.nan, dtype)
    dz0 = dz.copy()
    _dense.dense_backward(x, w, dz, dx, dw, db, True, n_threads)
    x64, w64, dz64 = x.astype(float), w.astype(float), dz.astype(float)
    assert_allclose(dw, x64.T @ dz64, **_tol(dtype, n))
    assert_allclose(dx, dz64 @ w64.T, **_tol(dtype, u))
    assert_allclose(db, dz64.sum(0), **_tol(dtype, n))
    assert_array_equal(dz, dz0)  # only read


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_backward_without_dx_and_dbias(dtype):
    x, w, dz = _data(20, 6, 4, dtype)
    dw = np.empty((6, 4), dtype)
    _dense.dense_backward(x, w, dz, None, dw, None, False, 1)
    assert_allclose(dw, x.astype(float).T @ dz.astype(float), **_tol(dtype))
    # a dx that is given while need_dx is False stays untouched
    dx = np.full((20, 6), 7.0, dtype)
    _dense.dense_backward(x, w, dz, dx, dw, None, False, 1)
    assert np.all(dx == 7.0)


def test_dense_backward_read_only_inputs():
    x, w, dz = _data(9, 4, 3, np.float64)
    for a in (x, w, dz):
        a.flags.writeable = False
    dx, dw, db = np.empty((9, 4)), np.empty((4, 3)), np.empty(3)
    _dense.dense_backward(x, w, dz, dx, dw, db, True, 2)
    assert_allclose(db, dz.sum(0), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 255, 256, 257, 5000])
def test_dbias_is_thread_invariant(dtype, n):
    x, w, dz = _data(n, 3, 37, dtype, seed=n)
    dz *= 1e3 ** np.random.default_rng(1).uniform(-1, 1, dz.shape)  # make order matter
    res = []
    for t in (1, 2, 4):
        db = np.empty(37, dtype)
        dw = np.empty((3, 37), dtype)
        _dense.dense_backward(x, w, dz, None, dw, db, False, t)
        res.append(db)
    assert_array_equal(res[0], res[1])
    assert_array_equal(res[0], res[2])
    # accumulated in double: float32 sums are the correctly rounded double sums here
    assert_allclose(res[0], dz.astype(float).sum(0), rtol=1e-6 if dtype == np.float32 else 1e-12)


CODES = [
    activations.linear,
    activations.relu,
    functools.partial(activations.relu, threshold=0.5, max_value=2.0),
    activations.sigmoid,
    activations.tanh,
    activations.gelu,
    activations.silu,
    activations.elu,
    activations.softmax,
    activations.log_softmax,
]


@pytest.mark.parametrize("fn", CODES, ids=lambda f: getattr(f, "__name__", None) or f.func.__name__ + "_p")
@pytest.mark.parametrize("shape", [(0, 3, 4), (1, 3, 4), (5, 3, 1), (700, 40, 30),
                                   (300, 70, 80)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_backward_act_is_grad_then_backward(fn, shape, dtype, n_threads):
    n, k, u = shape
    x, w, gy = _data(n, k, u, dtype, seed=3)
    b = np.random.default_rng(4).standard_normal(u).astype(dtype)
    z = x @ w + b
    y = fn(z)
    code, p0, p1, p2 = activations.fused_code(fn)
    src = z if _k.grad_needs_input(code, p0, p1, p2) else y
    # reference: activation_grad, then dense_backward
    dz_ref = np.empty_like(gy)
    _k.activation_grad(code, src.reshape(-1), gy.reshape(-1), dz_ref.reshape(-1),
                       max(u, 1), p0, p1, p2, 1)
    dx_ref, dw_ref, db_ref = np.empty((n, k), dtype), np.empty((k, u), dtype), np.empty(u, dtype)
    _dense.dense_backward(x, w, dz_ref, dx_ref, dw_ref, db_ref, True, 1)
    dz = gy.copy()
    dx, dw, db = np.empty((n, k), dtype), np.empty((k, u), dtype), np.empty(u, dtype)
    _dense.dense_backward_act(x, w, src, dz, dx, dw, db, True, code, p0, p1, p2, n_threads)
    assert_array_equal(dz, dz_ref)  # dz is overwritten with dL/dz
    assert_array_equal(db, db_ref)
    assert_array_equal(dw, dw_ref)
    assert_array_equal(dx, dx_ref)


def test_dense_backward_act_tanh_against_numpy():
    x, w, gy = _data(50, 6, 5, np.float64, seed=9)
    y = np.tanh(x @ w)
    dz = gy.copy()
    dw, db = np.empty((6, 5)), np.empty(5)
    _dense.dense_backward_act(x, w, y, dz, None, dw, db, False, _k.ACT_TANH,
                              0.0, 0.0, 0.0, 2)
    ref = gy * ((1 - y) * (1 + y))
    assert_allclose(dz, ref, rtol=1e-12, atol=1e-15)
    assert_allclose(dw, x.T @ ref, rtol=1e-12, atol=1e-13)
    assert_allclose(db, ref.sum(0), rtol=1e-12, atol=1e-13)


def test_shape_guards_raise():
    x, w, dz = _data(4, 3, 2, np.float64)
    dw, db, dx = np.empty((3, 2)), np.empty(2), np.empty((4, 3))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _dense.dense_backward(x, w, dz[:3], dx, dw, db, True, 1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _dense.dense_backward(x, w, dz, dx, np.empty((2, 3)), db, True, 1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _dense.dense_backward(x, w, dz, dx, dw, np.empty(3), True, 1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _dense.dense_backward(x, w[:2], dz, dx, dw, db, True, 1)
    with pytest.raises(ValueError, match="dx must be"):
        _dense.dense_backward(x, w, dz, None, dw, db, True, 1)
    with pytest.raises(ValueError, match="dx must be"):
        _dense.dense_backward(x, w, dz, np.empty((4, 2)), dw, db, True, 1)
    with pytest.raises(ValueError, match="act_src"):
        _dense.dense_backward_act(x, w, dz[:2], dz, dx, dw, db, True, _k.ACT_RELU,
                                  0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="unknown activation code"):
        _dense.dense_backward_act(x, w, dz, dz, dx, dw, db, True, _k.N_CODES,
                                  0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError):  # a mixed dtype matches no specialisation
        _dense.dense_backward(x.astype(np.float32), w, dz, dx, dw, db, True, 1)


def test_dbias_under_threadpool_limits():
    from threadpoolctl import threadpool_limits

    x, w, dz = _data(3000, 3, 37, np.float64, seed=11)
    db, dw = np.empty(37), np.empty((3, 37))
    _dense.dense_backward(x, w, dz, None, dw, db, False, 4)
    db1 = np.empty(37)
    with threadpool_limits(1, user_api="openmp"):
        _dense.dense_backward(x, w, dz, None, dw, db1, False, 4)
    assert_array_equal(db1, db)
