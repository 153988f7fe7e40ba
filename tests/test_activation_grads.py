"""Derivatives of every activation (densekit._lib._activations.activation_grad).

Checked against central finite differences of the public activation in float64,
at points away from the kinks; at the kinks against jax's one-sided choice
(relu'(0) = 0, ...; the values were read from jax 0.10 and are frozen here).
"""

import functools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit import activations
from densekit._lib import _activations as _k
from densekit.activations.activations import _ACTIVATIONS

P = functools.partial
A = activations

# (id, activation, kinks): every fused code, with the parameters that change which
# formula (or which tensor) the derivative uses.
CASES = [
    ("linear", A.linear, []),
    ("relu", A.relu, [0.0]),
    ("relu_leaky", P(A.relu, negative_slope=0.1), [0.0]),
    ("relu_leaky_neg", P(A.relu, negative_slope=-0.5), [0.0]),
    ("relu_leaky_steep", P(A.relu, negative_slope=2.0), [0.0]),
    ("relu_general", P(A.relu, negative_slope=0.1, max_value=2.5, threshold=0.5), [0.0, 0.5, 2.5]),
    ("relu_threshold_neg", P(A.relu, threshold=-1.0), [-1.0, 0.0]),
    ("relu_max", P(A.relu, max_value=3.0), [0.0, 3.0]),
    ("relu6", A.relu6, [0.0, 6.0]),
    ("leaky_relu", A.leaky_relu, [0.0]),
    ("leaky_relu_neg", P(A.leaky_relu, negative_slope=-0.3), [0.0]),
    ("leaky_relu_zero", P(A.leaky_relu, negative_slope=0.0), [0.0]),
    ("elu", A.elu, [0.0]),
    ("elu_half", P(A.elu, alpha=0.5), [0.0]),
    ("elu_zero", P(A.elu, alpha=0.0), [0.0]),
    ("elu_neg", P(A.elu, alpha=-0.7), [0.0]),
    ("selu", A.selu, [0.0]),
    ("celu", A.celu, [0.0]),
    ("celu_neg", P(A.celu, alpha=-2.0), [0.0]),
    ("gelu", A.gelu, []),
    ("gelu_tanh", P(A.gelu, approximate=True), []),
    ("silu", A.silu, []),
    ("sigmoid", A.sigmoid, []),
    ("tanh", A.tanh, []),
    ("softplus", A.softplus, []),
    ("softsign", A.softsign, [0.0]),
    ("hard_sigmoid", A.hard_sigmoid, [-3.0, 3.0]),
    ("hard_silu", A.hard_silu, [-3.0, 3.0]),
    ("exponential", A.exponential, []),
    ("mish", A.mish, []),
    ("log_sigmoid", A.log_sigmoid, []),
    ("hard_tanh", A.hard_tanh, [-1.0, 1.0]),
    ("tanh_shrink", A.tanh_shrink, []),
    ("hard_shrink", A.hard_shrink, [-0.5, 0.5]),
    ("hard_shrink_neg", P(A.hard_shrink, threshold=-0.5), []),
    ("soft_shrink", A.soft_shrink, [-0.5, 0.5]),
    ("soft_shrink_neg", P(A.soft_shrink, threshold=-0.3), [-0.3, 0.3]),
    ("sparse_plus", A.sparse_plus, [-1.0, 1.0]),
    ("sparse_sigmoid", A.sparse_sigmoid, [-1.0, 1.0]),
    ("squareplus", A.squareplus, []),
    ("squareplus_zero", P(A.squareplus, b=0.0), [0.0]),
    ("threshold", P(A.threshold, threshold=0.3, default_value=-2.0), [0.3]),
    ("softmax", A.softmax, []),
    ("log_softmax", A.log_softmax, []),
]
IDS = [c[0] for c in CASES]
ROW = 7  # the row length for the row-wise codes


def _grad(fn, x, dy, n_threads=1, out=None):
    """dy * fn'(x) through the kernel, fed the tensor grad_needs_input asks for."""
    code, p0, p1, p2 = activations.fused_code(fn)
    src = x if _k.grad_needs_input(code, p0, p1, p2) else fn(x)
    out = np.empty_like(x) if out is None else out
    _k.activation_grad(code, src.reshape(-1), dy.reshape(-1), out.reshape(-1),
                       x.shape[-1], p0, p1, p2, n_threads)
    return out


def _points(kinks, n=280, seed=0, lo=-7.0, hi=7.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, n)
    for k in kinks:
        x = x[np.abs(x - k) > 1e-3]
    return x[: (x.size // ROW) * ROW].reshape(-1, ROW)


def test_every_code_is_covered():
    codes = {activations.fused_code(c[1])[0] for c in CASES}
    assert codes == set(range(_k.N_CODES))
    # and every declared activation with a kernel has a derivative
    for entry in _ACTIVATIONS.values():
        if entry.code is not None:
            assert entry.grad is not None, entry.name


@pytest.mark.parametrize("name, fn, kinks", CASES, ids=IDS)
def test_grad_matches_finite_differences(name, fn, kinks):
    x = _points(kinks)
    rng = np.random.default_rng(1)
    dy = rng.standard_normal(x.shape)
    g = _grad(fn, x, dy)
    h = 1e-5
    if name in ("softmax", "log_softmax"):
        # Row-wise: the vector-Jacobian product, one directional difference per
        # basis vector.
        fd = np.empty_like(x)
        for j in range(x.shape[1]):
            e = np.zeros_like(x)
            e[:, j] = h
            fd[:, j] = ((fn(x + e) - fn(x - e)) / (2 * h) * dy).sum(axis=1)
    else:
        fd = (fn(x + h) - fn(x - h)) / (2 * h) * dy
    assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


# jax's derivative at the kinks (jax.grad of jax.nn.*, jax 0.10, x64).
KINKS = [
    ("relu", A.relu, 0.0, 0.0),
    ("relu6_0", A.relu6, 0.0, 0.0),
    ("relu6_6", A.relu6, 6.0, 0.0),
    ("leaky_relu", A.leaky_relu, 0.0, 1.0),
    ("relu_leaky", P(A.relu, negative_slope=0.1), 0.0, 1.0),
    ("elu", P(A.elu, alpha=0.5), 0.0, 0.5),
    ("selu", A.selu, 0.0, 1.7580993408473766),
    ("celu", P(A.celu, alpha=2.0), 0.0, 1.0),
    ("hard_tanh_1", A.hard_tanh, 1.0, 1.0),
    ("hard_tanh_m1", A.hard_tanh, -1.0, 1.0),
    ("hard_sigmoid_3", A.hard_sigmoid, 3.0, 0.0),
    ("hard_sigmoid_m3", A.hard_sigmoid, -3.0, 0.0),
    ("hard_silu_3", A.hard_silu, 3.0, 1.0),
    ("hard_silu_m3", A.hard_silu, -3.0, 0.0),
    ("sparse_plus_1", A.sparse_plus, 1.0, 1.0),
    ("sparse_plus_m1", A.sparse_plus, -1.0, 0.0),
    # Keras' jax backend: where(|x| > t, ...) and where(x > t, ...): 0 at the threshold.
    ("hard_shrink", A.hard_shrink, 0.5, 0.0),
    ("soft_shrink", A.soft_shrink, -0.5, 0.0),
    ("threshold", P(A.threshold, threshold=0.3, default_value=-2.0), 0.3, 0.0),
    ("relu_threshold", P(A.relu, threshold=0.5), 0.5, 0.0),
]


@pytest.mark.parametrize("name, fn, x0, expected", KINKS, ids=[k[0] for k in KINKS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_at_kinks_follows_jax(name, fn, x0, expected, dtype):
    x = np.full((1, 1), x0, dtype=dtype)
    g = _grad(fn, x, np.ones_like(x))
    assert_allclose(g[0, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("name, fn, kinks", CASES, ids=IDS)
def test_float32_agrees_with_float64(name, fn, kinks):
    x64 = _points(kinks, lo=-4.0, hi=4.0).astype(np.float32).astype(np.float64)
    # keep the float32 points away from the kinks too, after rounding
    dy64 = np.random.default_rng(2).standard_normal(x64.shape).astype(np.float32).astype(np.float64)
    g64 = _grad(fn, x64, dy64)
    g32 = _grad(fn, x64.astype(np.float32), dy64.astype(np.float32))
    assert g32.dtype == np.float32
    assert_allclose(g32, g64, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name, fn, kinks", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place(name, fn, kinks, dtype):
    x = _points(kinks).astype(dtype)
    dy = np.random.default_rng(3).standard_normal(x.shape).astype(dtype)
    expected = _grad(fn, x, dy)
    code, p0, p1, p2 = activations.fused_code(fn)
    src = x if _k.grad_needs_input(code, p0, p1, p2) else fn(x)
    # out is dy
    buf = dy.copy()
    _k.activation_grad(code, src.reshape(-1), buf.reshape(-1), buf.reshape(-1), ROW,
                       p0, p1, p2, 2)
    assert_array_equal(buf, expected)
    # out is the y_or_x array
    buf = src.copy()
    _k.activation_grad(code, buf.reshape(-1), dy.reshape(-1), buf.reshape(-1), ROW,
                       p0, p1, p2, 2)
    assert_array_equal(buf, expected)


@pytest.mark.parametrize("name, fn, kinks", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_invariance(name, fn, kinks, dtype):
    # Large enough for the parallel path (more than 32768 values, several chunks).
    rng = np.random.default_rng(4)
    x = rng.uniform(-6, 6, (9000, ROW)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    ref = _grad(fn, x, dy, n_threads=1)
    for n in (2, 4):
        assert_array_equal(_grad(fn, x, dy, n_threads=n), ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_jvps_against_numpy(dtype):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((13, 11)) * 3
    dy = rng.standard_normal(z.shape)
    s = np.exp(z - z.max(1, keepdims=True))
    s /= s.sum(1, keepdims=True)
    # softmax: J = diag(s) - s s^T (symmetric)
    ref_sm = np.einsum("rij,ri->rj", np.einsum("ri,ij->rij", s, np.eye(11))
                       - np.einsum("ri,rj->rij", s, s), dy)
    # log_softmax: J = I - 1 s^T, so J^T dy = dy - s sum(dy)
    ref_lsm = dy - s * dy.sum(1, keepdims=True)
    for fn, code, ref in ((A.softmax, _k.ACT_SOFTMAX, ref_sm),
                          (A.log_softmax, _k.ACT_LOG_SOFTMAX, ref_lsm)):
        y = fn(z.astype(dtype))
        out = np.empty_like(y)
        _k.activation_grad(code, y.reshape(-1), dy.astype(dtype).reshape(-1),
                           out.reshape(-1), 11, 0.0, 0.0, 0.0, 1)
        tol = 1e-12 if dtype == np.float64 else 2e-6
        assert_allclose(out, ref, rtol=tol, atol=tol)


def test_softmax_rows_thread_invariance():
    rng = np.random.default_rng(6)
    y = A.softmax(rng.standard_normal((5000, 10)))
    dy = rng.standard_normal(y.shape)
    outs = []
    for n in (1, 2, 4):
        out = np.empty_like(y)
        _k.activation_grad(_k.ACT_SOFTMAX, y.reshape(-1), dy.reshape(-1), out.reshape(-1),
                           10, 0.0, 0.0, 0.0, n)
        outs.append(out)
    assert_array_equal(outs[0], outs[1])
    assert_array_equal(outs[0], outs[2])


def test_grad_needs_input_table():
    # The codes that need x whatever the parameters ...
    assert _k.GRAD_NEEDS_INPUT == frozenset({
        _k.ACT_GELU, _k.ACT_GELU_TANH, _k.ACT_SILU, _k.ACT_SOFTSIGN, _k.ACT_HARD_SILU,
        _k.ACT_MISH, _k.ACT_HARD_TANH, _k.ACT_TANH_SHRINK, _k.ACT_THRESHOLD,
    })
    nan = float("nan")
    for code in range(_k.N_CODES):
        assert _k.grad_needs_input(code, 0.0, nan, 0.0) == (code in _k.GRAD_NEEDS_INPUT)
    # ... and the parameters that make y ambiguous.
    assert not _k.grad_needs_input(_k.ACT_RELU, 0.2, nan, 0.0)
    assert _k.grad_needs_input(_k.ACT_RELU, -0.2, nan, 0.0)
    assert _k.grad_needs_input(_k.ACT_RELU, 0.0, 6.0, 0.0)
    assert _k.grad_needs_input(_k.ACT_RELU, 0.0, nan, 0.5)
    assert not _k.grad_needs_input(_k.ACT_LEAKY_RELU, 0.2, 0.0, 0.0)
    assert _k.grad_needs_input(_k.ACT_LEAKY_RELU, -0.2, 0.0, 0.0)
    assert not _k.grad_needs_input(_k.ACT_ELU, 1.0, 0.0, 0.0)
    assert _k.grad_needs_input(_k.ACT_ELU, -1.0, 0.0, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_limits_at_infinity_are_finite(dtype):
    x = np.array([[-np.inf, np.inf, -1e30, 1e30]], dtype=dtype)
    dy = np.ones_like(x)
    for name, fn, _ in CASES:
        # exponential and celu with alpha < 0 (exp(x / alpha)): the true value overflows
        if name in ("softmax", "log_softmax", "exponential", "linear", "celu_neg"):
            continue
        g = _grad(fn, x, dy)
        assert np.all(np.isfinite(g)), (name, g)


def test_bad_arguments_raise():
    a = np.zeros(6)
    with pytest.raises(ValueError, match="unknown activation code"):
        _k.activation_grad(_k.N_CODES, a, a, a, 6, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="same size"):
        _k.activation_grad(_k.ACT_RELU, a, a[:3], a, 6, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="row_len"):
        _k.activation_grad(_k.ACT_SOFTMAX, a, a, a, 4, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="row_len"):
        _k.activation_grad(_k.ACT_SOFTMAX, a, a, a, 0, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="unknown activation code"):
        _k.grad_needs_input(-1, 0.0, 0.0, 0.0)


def test_empty_and_read_only():
    e = np.zeros(0)
    _k.activation_grad(_k.ACT_SOFTMAX, e, e, e, 3, 0.0, 0.0, 0.0, 1)
    _k.activation_grad(_k.ACT_TANH, e, e, e, 1, 0.0, 0.0, 0.0, 1)
    y = A.tanh(np.linspace(-1, 1, 8))
    dy = np.ones(8)
    y.flags.writeable = False
    dy.flags.writeable = False
    out = np.empty(8)
    _k.activation_grad(_k.ACT_TANH, y, dy, out, 8, 0.0, 0.0, 0.0, 1)
    assert_allclose(out, 1 - y * y, rtol=1e-14)


def test_a_grad_declaration_is_checked_when_it_is_made():
    from densekit.activations import activations as module

    before = dict(module._ACTIVATIONS)
    try:
        with pytest.raises(TypeError, match="does not read 'y'"):
            @module._activation(_k.ACT_SILU, grad="y")
            def bad1(x, *, out=None, n_threads=None):
                """silu's derivative reads x."""
        with pytest.raises(TypeError, match="does not read 'x'"):
            @module._activation(_k.ACT_TANH, grad="x")
            def bad2(x, *, out=None, n_threads=None):
                """tanh's derivative reads y."""
        with pytest.raises(TypeError, match="must be 'y'"):
            @module._activation(_k.ACT_TANH, grad="output")
            def bad3(x, *, out=None, n_threads=None):
                """Not a tensor name."""
        with pytest.raises(TypeError, match="needs a kernel code"):
            @module._activation(None, grad="y")
            def bad4(x, *, out=None, n_threads=None):
                """No kernel, no derivative kernel."""
        # Without grad= there is no backward function.
        @module._activation(_k.ACT_TANH)
        def no_grad(x, *, out=None, n_threads=None):
            """Test entry."""
        assert module._ACTIVATIONS["no_grad"].grad is None
    finally:
        module._ACTIVATIONS.clear()
        module._ACTIVATIONS.update(before)


def _entry_grad(fn):
    if isinstance(fn, functools.partial):
        return functools.partial(_ACTIVATIONS[fn.func.__name__].grad, **fn.keywords)
    return _ACTIVATIONS[fn.__name__].grad


@pytest.mark.parametrize("name, fn, kinks", CASES, ids=IDS)
def test_declared_grad_function(name, fn, kinks):
    # The backward function the declaration builds gives the kernel's bits, whichever
    # tensor the kernel reads (the other may be None).
    x = _points(kinks)
    dy = np.random.default_rng(7).standard_normal(x.shape)
    y = fn(x)
    expected = _grad(fn, x, dy)
    g = _entry_grad(fn)
    assert_array_equal(g(x, y, dy), expected)
    code, p0, p1, p2 = activations.fused_code(fn)
    if _k.grad_needs_input(code, p0, p1, p2):
        assert_array_equal(g(x, None, dy), expected)
        with pytest.raises(ValueError, match="Argument `x` is required"):
            g(None, y, dy)
    else:
        assert_array_equal(g(None, y, dy), expected)
        with pytest.raises(ValueError, match="Argument `y` is required"):
            g(x, None, dy)
    out = np.empty_like(x)
    assert g(x, y, dy, out=out, n_threads=2) is out
    assert_array_equal(out, expected)


def test_declared_grad_checks():
    g = _ACTIVATIONS["tanh"].grad
    y = np.zeros((2, 3))
    with pytest.raises(TypeError, match="dtype"):
        g(None, y, y.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        g(None, y, y[:1])
    with pytest.raises(ValueError, match="negative_slope|finite|number"):
        _ACTIVATIONS["leaky_relu"].grad(None, y, y, negative_slope=float("nan"))
    assert _ACTIVATIONS["glu"].grad is None and _ACTIVATIONS["sparsemax"].grad is None
    assert _ACTIVATIONS["relu"].grad_reads == "y"
    assert _ACTIVATIONS["gelu"].grad_reads == "x"


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_declared_grad_rowwise_axis(name):
    rng = np.random.default_rng(8)
    z = rng.standard_normal((4, 5, 3))
    dy = rng.standard_normal(z.shape)
    fn = getattr(A, name)
    g = _ACTIVATIONS[name].grad
    for axis in (0, 1, -1):
        y = fn(z, axis=axis)
        got = g(None, y, dy, axis=axis)
        moved = g(None, np.moveaxis(y, axis, -1).copy(), np.moveaxis(dy, axis, -1).copy())
        assert_array_equal(got, np.moveaxis(moved, -1, axis))
