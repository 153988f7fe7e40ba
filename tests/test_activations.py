"""densekit.activations: Keras-exact values, numerics at the edges, API and kernels."""

import functools
import math

import numpy as np
import pytest
import scipy.special as sp
from numpy.testing import assert_allclose, assert_array_equal

from densekit import activations
from densekit._lib import _activations as _k

DTYPES = [np.float32, np.float64]
# float32 results come from one rounding of a double computation (gelu's erfc fit
# adds <= 1.2e-7), so 1e-6 is ~16 ulp of margin; float64 reference at 1e-12.
RTOL = {np.float32: 1e-6, np.float64: 1e-12}
# Relative accuracy ends at the normal range: below `tiny` the spacing is fixed
# (one subnormal ulp exceeds rtol * |value|) and scipy's cephes erfc already
# flushes to 0 where glibc's still returns subnormals. So atol = 4 * tiny.
ATOL = {np.float32: 4 * float(np.finfo(np.float32).tiny),
        np.float64: 4 * float(np.finfo(np.float64).tiny)}
SQRT1_2 = 1 / math.sqrt(2)


def _ld(x):
    return np.asarray(x, dtype=np.longdouble)


def _tanh_shrink_ref(x):
    # long double keeps x - tanh(x) accurate to well below 1e-12 for |x| >= 1e-2;
    # below, the series x^3/3 - 2x^5/15 + 17x^7/315 is exact to ~1e-17.
    xl = _ld(x)
    series = xl**3 / 3 - 2 * xl**5 / 15 + 17 * xl**7 / 315
    return np.where(np.abs(xl) < 1e-2, series, xl - np.tanh(xl)).astype(np.float64)


def _relu_ref(x, negative_slope=0.0, max_value=None, threshold=0.0):
    # Keras' ReLU.static_call, in float64.
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return np.maximum(x, negative_slope * x)
    neg = np.maximum(threshold - x, 0.0)
    y = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    return y - negative_slope * neg


def _squareplus_ref(x, b=4):
    # (x + r) / 2 with r = sqrt(x^2 + b), or b / (2 (r - x)) for x < 0, which is the
    # same number without the cancellation; long double so that x^2 cannot overflow.
    xl = _ld(x)
    r = np.sqrt(xl * xl + b)
    with np.errstate(invalid="ignore"):
        return np.where(xl >= 0, (xl + r) / 2, b / (2 * (r - xl))).astype(np.float64)


# name -> (float64 reference, kwargs); each reference is the defining formula,
# rearranged only where the literal form cancels (gelu: erfc; tanh-gelu: expit).
REFERENCES = {
    "relu": (_relu_ref, {}),
    "relu_slope": (functools.partial(_relu_ref, negative_slope=0.1), {"negative_slope": 0.1}),
    "relu_cap": (functools.partial(_relu_ref, max_value=1.5), {"max_value": 1.5}),
    # Thresholds are exact binary fractions here: for float32 densekit (like Keras)
    # compares with float32(threshold); that rounding is tested on its own.
    "relu_thr": (functools.partial(_relu_ref, threshold=0.375), {"threshold": 0.375}),
    "relu_all": (
        functools.partial(_relu_ref, negative_slope=0.2, max_value=2.0, threshold=-0.5),
        {"negative_slope": 0.2, "max_value": 2.0, "threshold": -0.5},
    ),
    "relu6": (lambda x: np.clip(x, 0, 6), {}),
    "leaky_relu": (lambda x: np.maximum(x, 0.2 * x), {}),
    "elu": (lambda x: np.where(x >= 0, x, 0.7 * np.expm1(np.minimum(x, 0))), {"alpha": 0.7}),
    "selu": (
        lambda x: 1.0507009873554805
        * np.where(x >= 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
        {},
    ),
    "celu": (
        lambda x: np.maximum(x, 0) + 1.5 * np.expm1(np.minimum(x, 0) / 1.5),
        {"alpha": 1.5},
    ),
    "gelu": (lambda x: 0.5 * x * sp.erfc(-x * SQRT1_2), {}),
    "gelu_tanh": (
        lambda x: x * sp.expit(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)),
        {"approximate": True},
    ),
    "silu": (lambda x: x * sp.expit(x), {}),
    "sigmoid": (sp.expit, {}),
    "log_sigmoid": (sp.log_expit, {}),
    "tanh": (np.tanh, {}),
    "hard_tanh": (lambda x: np.clip(x, -1, 1), {}),
    "tanh_shrink": (_tanh_shrink_ref, {}),
    "hard_shrink": (lambda x: np.where(np.abs(x) > 0.5, x, 0.0), {}),
    "soft_shrink": (
        lambda x: np.where(x > 0.4375, x - 0.4375, np.where(x < -0.4375, x + 0.4375, 0.0)),
        {"threshold": 0.4375},
    ),
    "softplus": (lambda x: np.logaddexp(x, 0), {}),
    "softsign": (lambda x: x / (1 + np.abs(x)), {}),
    "sparse_plus": (
        lambda x: np.where(x <= -1, 0.0, np.where(x < 1, 0.25 * (x + 1) ** 2, x)),
        {},
    ),
    "sparse_sigmoid": (
        lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, 0.5 * (x + 1))),
        {},
    ),
    "squareplus": (functools.partial(_squareplus_ref, b=3.0), {"b": 3.0}),
    "hard_sigmoid": (lambda x: np.clip(x / 6 + 0.5, 0, 1), {}),
    "hard_silu": (lambda x: x * np.clip(x / 6 + 0.5, 0, 1), {}),
    "exponential": (np.exp, {}),
    "mish": (lambda x: x * np.tanh(np.logaddexp(x, 0)), {}),
    "linear": (lambda x: x, {}),
    "threshold": (
        lambda x: np.where(x > 0.25, x, -3.0),
        {"threshold": 0.25, "default_value": -3.0},
    ),
}


def _fn(case):
    name = case.split("_")[0] if case.startswith("relu_") else case
    if case == "gelu_tanh":
        name = "gelu"
    return getattr(activations, name), REFERENCES[case][1]


def _data(dtype, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([
        rng.standard_normal(n) * 3,
        rng.uniform(-40, 40, n // 4),
        np.linspace(-1.5, 1.5, 301),
        # across float32's exp range and the subnormal results near its end
        np.linspace(-120, 120, 2401),
        [0.0, -0.0, 1e-30, -1e-30, 1e-5, -1e-5, 1e-3, -1e-3, 0.5, -0.5, 3.0, -3.0, 6.0,
         1.0, -1.0, 0.3, 0.4, -0.4, 0.25, 0.375, 0.4375, -0.4375],
    ])
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(REFERENCES))
def test_matches_reference(case, dtype):
    fn, kwargs = _fn(case)
    ref, _ = REFERENCES[case]
    x = _data(dtype)
    if case == "exponential":
        x = x[np.abs(x) < 80]
    got = fn(x, **kwargs)
    assert got.dtype == dtype and got.shape == x.shape
    assert_allclose(got, ref(x.astype(np.float64)), rtol=RTOL[dtype], atol=ATOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(REFERENCES))
def test_extremes_are_finite_and_accurate(case, dtype):
    """+-1e4, +-huge and subnormals: no overflow, no NaN, values still right."""
    fn, kwargs = _fn(case)
    ref, _ = REFERENCES[case]
    info = np.finfo(dtype)
    x = np.array([1e4, -1e4, 1e30, -1e30, info.max, -info.max, info.smallest_subnormal,
                  -info.smallest_subnormal, info.tiny, -info.tiny, 3 * info.smallest_subnormal],
                 dtype=dtype)
    if case == "exponential":
        x = x[x < 80]
    if case == "selu":  # selu(max) = 1.05 * max: the true value overflows
        x = x[np.abs(x) < info.max]
    got = fn(x, **kwargs)
    assert np.all(np.isfinite(got)), got
    with np.errstate(all="ignore"):
        expected = ref(x.astype(np.float64))
    finite = np.isfinite(expected) & (np.abs(expected) <= info.max)
    # Where the float64 literal formula itself overflows (x**3, x*x), the value is
    # checked through its asymptote instead: gelu/silu/mish/softplus/squareplus -> x.
    assert_allclose(got[finite], expected[finite], rtol=RTOL[dtype], atol=ATOL[dtype])


def test_exponential_overflows_like_exp():
    got = activations.exponential(np.array([1e4, 88.0, 89.0, -1e4], np.float32))
    assert got[0] == np.inf and np.isfinite(got[1]) and got[2] == np.inf and got[3] == 0


INF_LIMITS = {
    # name: (f(+inf), f(-inf))
    "relu": (np.inf, 0.0), "relu6": (6.0, 0.0), "leaky_relu": (np.inf, -np.inf),
    "elu": (np.inf, -1.0), "selu": (np.inf, -1.0507009873554805 * 1.6732632423543772),
    "celu": (np.inf, -1.0), "gelu": (np.inf, 0.0), "silu": (np.inf, 0.0),
    "sigmoid": (1.0, 0.0), "log_sigmoid": (0.0, -np.inf), "tanh": (1.0, -1.0),
    "hard_tanh": (1.0, -1.0), "tanh_shrink": (np.inf, -np.inf),
    "hard_shrink": (np.inf, -np.inf), "soft_shrink": (np.inf, -np.inf),
    "softplus": (np.inf, 0.0), "softsign": (1.0, -1.0), "sparse_plus": (np.inf, 0.0),
    "sparse_sigmoid": (1.0, 0.0), "squareplus": (np.inf, 0.0),
    "hard_sigmoid": (1.0, 0.0), "hard_silu": (np.inf, 0.0), "exponential": (np.inf, 0.0),
    "mish": (np.inf, 0.0), "linear": (np.inf, -np.inf),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(INF_LIMITS))
def test_infinities_give_limits_and_nan_propagates(name, dtype):
    fn = getattr(activations, name)
    hi, lo = INF_LIMITS[name]
    got = fn(np.array([np.inf, -np.inf, np.nan], dtype=dtype))
    assert_allclose(got[:2], np.array([hi, lo], dtype=dtype), rtol=RTOL[dtype])
    assert np.isnan(got[2])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_infinity_limits_with_parameters(dtype):
    x = np.array([np.inf, -np.inf, np.nan], dtype=dtype)
    assert_array_equal(activations.relu(x, negative_slope=0.5)[:2], [np.inf, -np.inf])
    assert_array_equal(activations.relu(x, max_value=3.0)[:2], [3.0, 0.0])
    assert_array_equal(activations.relu(x, threshold=1.0)[:2], [np.inf, 0.0])
    assert_array_equal(activations.relu(x, 0.5, 3.0, 1.0)[:2], [3.0, -np.inf])
    assert_array_equal(activations.threshold(x, 0.0, 7.0)[:2], [np.inf, 7.0])
    assert_array_equal(activations.gelu(x, approximate=True)[:2], [np.inf, 0.0])
    for fn in (lambda v: activations.relu(v, 0.5, 3.0, 1.0),
               lambda v: activations.threshold(v, 0.0, 7.0),
               lambda v: activations.gelu(v, approximate=True),
               lambda v: activations.celu(v, 2.0)):
        assert np.isnan(fn(x)[2])


def test_tanh_shrink_small_inputs_keep_relative_accuracy():
    x = np.array([1e-8, -1e-6, 3e-4, 0.01, 0.2, 0.26])
    assert_allclose(activations.tanh_shrink(x), _tanh_shrink_ref(x), rtol=1e-13)


def test_keras_docstring_examples():
    x = [-10, -5, 0.0, 5, 10]
    assert_array_equal(activations.relu(x), [0, 0, 0, 5, 10])
    assert_array_equal(activations.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    assert_array_equal(activations.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    assert_array_equal(activations.relu(x, threshold=5.0), [0, 0, 0, 0, 10])
    assert_allclose(
        activations.sigmoid(np.array([-6.0, 1.0, 0.0, 1.0, 6.0], np.float32)),
        [0.00247262, 0.7310586, 0.5, 0.7310586, 0.9975274], rtol=2e-6,  # printed digits
    )
    assert_array_equal(
        activations.sparse_sigmoid([-6.0, 1.0, 0.0, 1.0, 6.0]), [0, 1, 0.5, 1, 1]
    )
    # Parameters are cast to the input dtype, as Keras does: float32(0.3) is not
    # above float32(0.3), although it is above the double 0.3.
    x32 = np.float32([0.3, 0.4, -0.4, 0.5])
    f = np.float32
    assert_array_equal(activations.relu(x32, threshold=0.3), f([0, 0.4, 0, 0.5]))
    assert_array_equal(activations.threshold(x32, 0.3, -1.0), f([-1, 0.4, -1, 0.5]))
    assert_array_equal(activations.hard_shrink(x32, threshold=0.4), f([0, 0, 0, 0.5]))
    assert_array_equal(activations.soft_shrink(x32, threshold=0.4), [0, 0, 0, f(0.5) - f(0.4)])
    # Keras' leaky shortcut: relu with only a slope is max(x, slope * x), even for slope > 1.
    assert_array_equal(activations.relu([-1.0, 2.0], negative_slope=2.0), [-1.0, 4.0])


# ------------------------------------------------------------ input handling

ELEMENTWISE = sorted(INF_LIMITS)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_dtype_rules_and_shapes(name):
    fn = getattr(activations, name)
    assert fn(np.arange(6, dtype=np.int64).reshape(2, 3)).dtype == np.float32
    assert fn(np.array([True, False])).dtype == np.float32
    assert fn(np.ones(3, np.float16)).dtype == np.float32
    assert fn([1, 2]).dtype == np.float32
    assert fn([1.5, 2.5]).dtype == np.float64  # a list of Python floats is float64
    zero_d = fn(np.float64(0.5))
    assert zero_d.shape == () and zero_d.dtype == np.float64
    assert fn(np.empty((0, 3), np.float32)).shape == (0, 3)
    x = _data(np.float64, 200).reshape(-1)[:240].reshape(2, 3, 4, 10)
    assert_array_equal(fn(x).reshape(-1), fn(x.reshape(-1)))
    with pytest.raises(TypeError, match="`x`"):
        fn(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="`x`"):
        fn(np.array(["a"]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_non_contiguous_and_readonly_inputs(dtype):
    x = _data(dtype, 1200)[:1200].reshape(30, 40)
    expected = activations.gelu(x)
    assert_array_equal(activations.gelu(np.asfortranarray(x)), expected)
    assert_array_equal(activations.gelu(x[:, ::2]), expected[:, ::2])
    ro = x.copy()
    ro.flags.writeable = False
    assert_array_equal(activations.gelu(ro), expected)
    assert_array_equal(activations.softmax(np.asfortranarray(x), axis=0),
                       activations.softmax(x, axis=0))


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_out_in_place_and_preallocated(name, dtype):
    fn = getattr(activations, name)
    x = _data(dtype, 3000)
    expected = fn(x)
    out = np.empty_like(x)
    res = fn(x, out=out)
    assert res is out
    assert_array_equal(out, expected)
    y = x.copy()
    assert fn(y, out=y) is y
    assert_array_equal(y, expected)


def test_out_partial_overlap_is_safe():
    buf = np.arange(-10, 10, dtype=np.float64)
    expected = activations.softsign(buf[:15])
    activations.softsign(buf[:15], out=buf[5:])
    assert_array_equal(buf[5:], expected)


@pytest.mark.parametrize("call", [
    lambda x, out: activations.relu(x, out=out),
    lambda x, out: activations.softmax(x, axis=0, out=out),
    lambda x, out: activations.sparsemax(x, out=out),
])
def test_bad_out_is_rejected_and_untouched(call):
    x = np.ones((4, 6), np.float32)
    cases = [
        (np.full((4, 5), 7.0, np.float32), ValueError, "shape"),
        (np.full((4, 6), 7.0, np.float64), TypeError, "dtype"),
        (np.full((6, 4), 7.0, np.float32).T, ValueError, "C-contiguous"),
    ]
    ro = np.full((4, 6), 7.0, np.float32)
    ro.flags.writeable = False
    cases.append((ro, ValueError, "read-only"))
    for out, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call(x, out)
        assert np.all(out == 7.0)
    with pytest.raises(TypeError, match="`out`"):
        call(x, [[0.0] * 6] * 4)


# ------------------------------------------------------------------ threads

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax", "log_softmax", "glu"])
def test_thread_count_does_not_change_results(name, dtype, n_threads):
    fn = getattr(activations, name)
    x = np.random.default_rng(3).standard_normal((98, 1030)).astype(dtype) * 4
    assert_array_equal(fn(x, n_threads=n_threads), fn(x, n_threads=1))
    if name in ("softmax", "log_softmax", "glu"):
        assert_array_equal(fn(x, axis=0, n_threads=n_threads), fn(x, axis=0, n_threads=1))


def test_threadpool_limits_is_honoured_and_changes_nothing():
    from threadpoolctl import threadpool_limits

    x = np.random.default_rng(9).standard_normal((64, 3000)).astype(np.float32)
    expected = activations.gelu(x, n_threads=2), activations.softmax(x, axis=0, n_threads=2)
    with threadpool_limits(1, user_api="openmp"):
        assert_array_equal(activations.gelu(x), expected[0])
        assert_array_equal(activations.softmax(x, axis=0), expected[1])


def test_n_threads_is_validated():
    with pytest.raises(ValueError, match="n_threads"):
        activations.relu([1.0], n_threads=0)
    with pytest.raises(TypeError, match="n_threads"):
        activations.softmax([1.0], n_threads="2")


# ------------------------------------------------------- axis-wise functions

def _shapes_and_axes():
    for shape in [(7,), (5, 9), (3, 4, 6), (2, 3, 4, 300)]:
        for axis in range(-len(shape), len(shape)):
            yield shape, axis


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,axis", list(_shapes_and_axes()))
def test_softmax_and_log_softmax_match_scipy(shape, axis, dtype):
    x = (np.random.default_rng(4).standard_normal(shape) * 5).astype(dtype)
    x64 = x.astype(np.float64)
    sm = activations.softmax(x, axis=axis)
    lsm = activations.log_softmax(x, axis=axis)
    assert sm.dtype == dtype and lsm.dtype == dtype
    assert_allclose(sm, sp.softmax(x64, axis=axis), rtol=RTOL[dtype], atol=ATOL[dtype])
    assert_allclose(lsm, sp.log_softmax(x64, axis=axis), rtol=RTOL[dtype], atol=ATOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_edges(axis, dtype):
    inf, nan = np.inf, np.nan
    rows = np.array([
        [1e4, 1e4 - 1.0, -1e4, 0.0],      # huge spread: no overflow
        [inf, 1.0, inf, -inf],             # two +inf: 1/2 each
        [-inf, 0.0, 1.0, 2.0],             # -inf: probability 0
        [nan, 1.0, 2.0, 3.0],              # NaN poisons its slice
        [-inf, -inf, -inf, -inf],          # undefined: NaN
    ], dtype=dtype)
    x = rows if axis == -1 else np.ascontiguousarray(rows.T)
    sm = activations.softmax(x, axis=axis)
    lsm = activations.log_softmax(x, axis=axis)
    if axis == 0:
        sm, lsm = sm.T, lsm.T
    e = math.exp(-1.0)
    assert_allclose(sm[0], [1 / (1 + e), e / (1 + e), 0, 0], rtol=RTOL[dtype])
    assert_allclose(lsm[0], [-math.log1p(e), -1 - math.log1p(e), -2e4 - math.log1p(e), -1e4 - math.log1p(e)],
                    rtol=RTOL[dtype])
    assert_array_equal(sm[1], [0.5, 0, 0.5, 0])
    assert_allclose(lsm[1], [-math.log(2), -inf, -math.log(2), -inf])
    assert_allclose(sm[2], sp.softmax([-inf, 0.0, 1.0, 2.0]), rtol=RTOL[dtype])
    assert lsm[2][0] == -inf
    assert np.all(np.isnan(sm[3])) and np.all(np.isnan(lsm[3]))
    assert np.all(np.isnan(sm[4])) and np.all(np.isnan(lsm[4]))


def test_softmax_in_place_and_axis_errors():
    x = np.random.default_rng(5).standard_normal((6, 5, 4))
    for axis in (0, 1, 2):
        y = x.copy()
        activations.softmax(y, axis=axis, out=y)
        assert_array_equal(y, activations.softmax(x, axis=axis))
        y = x.copy()
        activations.log_softmax(y, axis=axis, out=y)
        assert_array_equal(y, activations.log_softmax(x, axis=axis))
    for fn in (activations.softmax, activations.log_softmax, activations.sparsemax,
               activations.glu):
        with pytest.raises(ValueError, match="axis"):
            fn(x, axis=3)
        with pytest.raises(TypeError, match="axis"):
            fn(x, axis=1.0)
        with pytest.raises(TypeError, match="axis"):
            fn(x, axis=True)
        with pytest.raises(ValueError, match="dimension"):
            fn(np.float32(1.0))
    assert activations.softmax(np.empty((3, 0))).shape == (3, 0)
    assert activations.softmax(np.empty((0, 3)), axis=0).shape == (0, 3)


def _sparsemax_row(z):
    # Martins & Astudillo (2016), Algorithm 1, one row at a time in Python.
    s = sorted(z, reverse=True)
    cum, k, cum_k = 0.0, 0, 0.0
    for i, v in enumerate(s, 1):
        cum += v
        if 1 + i * v > cum:
            k, cum_k = i, cum
    tau = (cum_k - 1) / k
    return [max(v - tau, 0.0) for v in z]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,axis", [((7,), 0), ((5, 9), -1), ((5, 9), 0),
                                        ((3, 4, 6), 1), ((2, 3, 4, 5), 2)])
def test_sparsemax(shape, axis, dtype):
    x = (np.random.default_rng(6).standard_normal(shape) * 2).astype(dtype)
    got = activations.sparsemax(x, axis=axis)
    moved = np.moveaxis(x.astype(np.float64), axis, -1)
    ref = np.apply_along_axis(_sparsemax_row, -1, moved)
    assert got.dtype == dtype
    assert_allclose(got, np.moveaxis(ref, -1, axis), rtol=RTOL[dtype], atol=1e-6 if dtype == np.float32 else 1e-13)
    assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-5)
    assert np.all(got >= 0)


def test_sparsemax_known_values_and_edges():
    got = activations.sparsemax([[1.0, 2.0, 3.0], [0.1, 0.2, 0.15]])
    assert_allclose(got, [[0, 0, 1], [0.2833333333333333, 0.3833333333333333, 1 / 3]], rtol=1e-12)
    big = activations.sparsemax(np.array([[1e4, -1e4, 1e4 - 0.5, 1.7e308, -1.7e308]]))
    assert_allclose(big, [[0, 0, 0, 1, 0]])
    big = activations.sparsemax(np.array([[1e4, -1e4, 1e4 - 0.5]], np.float32))
    assert_allclose(big, [[0.75, 0, 0.25]])
    edges = activations.sparsemax([[np.inf, 0.0, np.inf], [-np.inf, 1.0, 1.0],
                                   [np.nan, 1.0, 2.0], [-np.inf, -np.inf, -np.inf]])
    assert_array_equal(edges[0], [0.5, 0, 0.5])
    assert_array_equal(edges[1], [0, 0.5, 0.5])
    assert np.all(np.isnan(edges[2:]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,axis", [((8,), 0), ((4, 6), -1), ((4, 6), 0),
                                        ((3, 4, 6), 1), ((2, 4, 3, 10), -1), ((2, 4, 3, 10), 0)])
def test_glu(shape, axis, dtype):
    x = (np.random.default_rng(7).standard_normal(shape) * 4).astype(dtype)
    a, b = np.split(x.astype(np.float64), 2, axis=axis)
    got = activations.glu(x, axis=axis)
    assert got.dtype == dtype and got.shape == a.shape
    assert_allclose(got, a * sp.expit(b), rtol=RTOL[dtype], atol=ATOL[dtype])
    out = np.empty(a.shape, dtype)
    assert activations.glu(x, axis=axis, out=out) is out
    assert_array_equal(out, got)


def test_glu_odd_axis_and_limits():
    with pytest.raises(ValueError, match="axis size must be divisible by 2"):
        activations.glu(np.ones((3, 5)))
    got = activations.glu(np.array([-np.inf, 1.0, np.nan, -np.inf, np.inf, 1.0]))
    assert_array_equal(got[:2], [0.0, 1.0])  # -inf * sigmoid(-inf) -> 0; 1 * sigmoid(inf) = 1
    assert np.isnan(got[2])


# ---------------------------------------------------------- parameter checks

@pytest.mark.parametrize("call,exc,arg", [
    (lambda: activations.relu([1.0], negative_slope="a"), ValueError, "negative_slope"),
    (lambda: activations.relu([1.0], max_value=math.nan), ValueError, "max_value"),
    (lambda: activations.relu([1.0], threshold=math.inf), ValueError, "threshold"),
    (lambda: activations.leaky_relu([1.0], negative_slope=None), ValueError, "negative_slope"),
    (lambda: activations.elu([1.0], alpha=True), ValueError, "alpha"),
    (lambda: activations.celu([1.0], alpha=0.0), ValueError, "alpha"),
    (lambda: activations.gelu([1.0], approximate="yes"), TypeError, "approximate"),
    (lambda: activations.squareplus([1.0], b=-1), ValueError, "`b`"),
    (lambda: activations.hard_shrink([1.0], threshold="x"), ValueError, "threshold"),
    (lambda: activations.soft_shrink([1.0], threshold=math.nan), ValueError, "threshold"),
    (lambda: activations.threshold([1.0], 0.0, None), ValueError, "default_value"),
])
def test_bad_parameters(call, exc, arg):
    with pytest.raises(exc, match=arg):
        call()


# ---------------------------------------------------------- get / serialize

KERAS_NAMES = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "swish",
    "hard_sigmoid", "hard_silu", "hard_swish", "sigmoid", "log_sigmoid", "tanh",
    "hard_tanh", "tanh_shrink", "hard_shrink", "soft_shrink", "softplus", "softsign",
    "sparse_plus", "sparse_sigmoid", "squareplus", "mish", "exponential", "linear",
    "softmax", "log_softmax", "sparsemax", "glu", "threshold",
]


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_get_and_serialize_round_trip(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.get(activations.serialize(fn)) is fn
    assert activations.deserialize(activations.serialize(fn)) is fn
    assert activations.get(fn) is fn


def test_aliases_and_lookup_rules():
    assert activations.swish is activations.silu
    assert activations.hard_swish is activations.hard_silu
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(activations.hard_swish) == "hard_silu"
    assert activations.get(None) is activations.linear
    assert set(activations.ALL_OBJECTS_DICT) == set(KERAS_NAMES)
    for bad in ["Relu", "RELU", "gelu ", "crelu", "", 42, 1.5, [1]]:
        with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
            activations.get(bad)
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: Relu"):
        activations.get("Relu")


def test_custom_functions():
    def my_act(x):
        return x

    assert activations.get(my_act) is my_act
    cfg = activations.serialize(my_act)
    assert cfg["class_name"] == "function" and cfg["config"] == "my_act"
    assert activations.deserialize(cfg, custom_objects={"my_act": my_act}) is my_act
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.deserialize(cfg)
    with pytest.raises(ValueError, match="cannot be serialized"):
        activations.serialize(lambda x: x)
    with pytest.raises(TypeError, match="custom_objects"):
        activations.deserialize("relu", custom_objects=[1])
    assert activations.deserialize("relu", custom_objects={"relu": my_act}) is my_act


# --------------------------------------------- the Dense layer's fused hook

# Every activation with a fused kernel; its code is read from the compiled module.
FUSED = [
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu",
    "sigmoid", "tanh", "softplus", "softsign", "hard_sigmoid", "hard_silu", "exponential",
    "mish", "log_sigmoid", "hard_tanh", "tanh_shrink", "hard_shrink", "soft_shrink",
    "sparse_plus", "sparse_sigmoid", "squareplus", "softmax", "log_softmax",
]


def test_fused_codes_are_the_kernel_codes():
    assert _k.N_CODES == 29
    for name in FUSED:
        got = activations.fused_code(getattr(activations, name))
        assert got[0] == getattr(_k, "ACT_" + name.upper()) and len(got) == 4
        assert 0 <= got[0] < _k.N_CODES
    relu = activations.fused_code(activations.relu)
    assert relu[0] == _k.ACT_RELU and relu[1] == relu[3] == 0.0 and math.isnan(relu[2])
    assert activations.fused_code(
        functools.partial(activations.gelu, approximate=True))[0] == _k.ACT_GELU_TANH
    assert activations.fused_code(
        functools.partial(activations.threshold, threshold=1.0, default_value=2.0)
    ) == (_k.ACT_THRESHOLD, 1.0, 2.0, 0.0)
    assert activations.fused_code(
        functools.partial(activations.relu, max_value=6)) == (_k.ACT_RELU, 0.0, 6.0, 0.0)
    for none in [activations.glu, activations.sparsemax, print, lambda x: x,
                 functools.partial(activations.softmax, axis=0),
                 functools.partial(activations.softmax, axis=(0, 1)),
                 functools.partial(activations.relu, out=None),
                 functools.partial(activations.elu, 0.5)]:
        assert activations.fused_code(none) is None
    with pytest.raises(ValueError, match="alpha"):
        activations.fused_code(functools.partial(activations.celu, alpha=0))
    with pytest.raises(TypeError):
        activations.fused_code(functools.partial(activations.relu, bogus=1))
    with pytest.raises(TypeError):  # threshold's parameters have no defaults
        activations.fused_code(activations.threshold)
    # gelu's tanh form and threshold (whose parameters have no defaults) are the
    # codes no bare function maps to: with them, every kernel code is reachable.
    codes = {activations.fused_code(getattr(activations, n))[0] for n in FUSED}
    codes |= {_k.ACT_GELU_TANH, _k.ACT_THRESHOLD}
    assert codes == set(range(_k.N_CODES))


PARTIALS = [
    functools.partial(activations.relu, negative_slope=0.1, max_value=2.0, threshold=0.5),
    functools.partial(activations.relu, negative_slope=0.1),
    functools.partial(activations.elu, alpha=0.3),
    functools.partial(activations.celu, alpha=2.0),
    functools.partial(activations.gelu, approximate=True),
    functools.partial(activations.hard_shrink, threshold=0.2),
    functools.partial(activations.soft_shrink, threshold=0.2),
    functools.partial(activations.squareplus, b=1.0),
    functools.partial(activations.threshold, threshold=0.1, default_value=-1.0),
] + [getattr(activations, name) for name in FUSED]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("act", PARTIALS, ids=lambda a: getattr(a, "__name__", None) or a.func.__name__)
def test_bias_activate_row_contract(act, dtype, n_threads):
    """What Dense runs, row[j] = act(row[j] + bias[j]) via the .pxd, equals the public function."""
    code, p0, p1, p2 = activations.fused_code(act)
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((13, 1300)) * 3).astype(dtype)  # rows span several tiles
    bias = (rng.standard_normal(1300)).astype(dtype)
    y = x.copy()
    _k.bias_activate_rows(code, y, bias, p0, p1, p2, n_threads)
    assert_array_equal(y, act(x + bias))
    y = x.copy()
    _k.bias_activate_rows(code, y, None, p0, p1, p2, n_threads)
    assert_array_equal(y, act(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_exp_based_kernels_over_the_whole_range(dtype):
    """The vectorized exp covers overflow, the subnormal results and underflow to 0."""
    x = np.linspace(-760, 720, 20001).astype(dtype)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        ref = np.exp(x64).astype(dtype)
    got = activations.exponential(x)
    assert_array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    assert_allclose(got[fin], ref[fin], rtol=RTOL[dtype], atol=ATOL[dtype])
    def sig(v):  # scipy's expit is 1/(1+exp(-v)): it flushes to 0 before exp(v) does
        e = np.exp(-np.abs(v))
        return np.where(v >= 0, 1 / (1 + e), e / (1 + e))

    for name, fn in [("sigmoid", sig), ("silu", lambda v: v * sig(v)),
                     ("elu", lambda v: np.where(v >= 0, v, np.expm1(np.minimum(v, 0)))),
                     ("softplus", lambda v: np.logaddexp(v, 0)), ("log_sigmoid", sp.log_expit),
                     ("mish", lambda v: v * np.tanh(np.logaddexp(v, 0))),
                     ("tanh", np.tanh)]:
        assert_allclose(getattr(activations, name)(x), fn(x64), rtol=RTOL[dtype],
                        atol=ATOL[dtype], err_msg=name)
    small = np.array([-1e-3, -1e-5, -1e-9, -0.0099, -0.0101, -0.5], dtype)
    assert_allclose(activations.elu(small), np.expm1(small.astype(np.float64)), rtol=RTOL[dtype])


# ------------------------------------------------ the declaration table

# Keras 3 signatures (keras/src/activations/activations.py) plus densekit's two
# keyword-only extras.
KERAS_SIGNATURES = {
    "relu": "x, negative_slope=0.0, max_value=None, threshold=0.0",
    "leaky_relu": "x, negative_slope=0.2", "relu6": "x", "softmax": "x, axis=-1",
    "elu": "x, alpha=1.0", "selu": "x", "softplus": "x", "softsign": "x",
    "soft_shrink": "x, threshold=0.5", "sparse_plus": "x", "silu": "x",
    "squareplus": "x, b=4", "gelu": "x, approximate=False", "celu": "x, alpha=1.0",
    "glu": "x, axis=-1", "tanh": "x", "tanh_shrink": "x",
    "threshold": "x, threshold, default_value", "sigmoid": "x", "sparse_sigmoid": "x",
    "exponential": "x", "hard_sigmoid": "x", "hard_silu": "x", "hard_tanh": "x",
    "hard_shrink": "x, threshold=0.5", "linear": "x", "mish": "x",
    "log_softmax": "x, axis=-1", "log_sigmoid": "x", "sparsemax": "x, axis=-1",
}


@pytest.mark.parametrize("name", sorted(KERAS_SIGNATURES))
def test_public_functions_keep_keras_signatures_and_names(name):
    import inspect
    import pickle

    fn = getattr(activations, name)
    sig = inspect.signature(fn)
    plain = sig.replace(parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()])
    assert str(plain) == f"({KERAS_SIGNATURES[name]}, *, out=None, n_threads=None)"
    assert fn.__name__ == fn.__qualname__ == name
    assert fn.__module__ == "densekit.activations.activations"
    assert pickle.loads(pickle.dumps(fn)) is fn
    # The source shown is the declaration, docstring included.
    assert f"def {name}(" in inspect.getsource(fn)
    doc = fn.__doc__
    if doc is not None:  # None under python -OO
        params = doc.split("Parameters\n    ----------\n")[1].split("\n\n")[0]
        for p in sig.parameters:
            assert f"    {p} : " in params, (name, p)


def test_the_table_is_the_registry():
    from densekit.activations import activations as module

    table = module._ACTIVATIONS
    assert set(table) == set(KERAS_SIGNATURES)
    assert activations.ALL_OBJECTS == {e.function for e in table.values()}
    assert set(table) <= set(activations.__all__) and set(table) <= set(module.__all__)
    for name, entry in table.items():
        assert entry.name == name and getattr(activations, name) is entry.function
        assert (entry.encode is not None) == (name in FUSED or name == "threshold")
        assert [p.name for p in entry.params] == (
            list(inspect_params(entry.function)) if entry.encode else []
        )


def inspect_params(fn):
    import inspect

    return [p for p in inspect.signature(fn).parameters if p not in ("x", "out", "n_threads")]


def test_a_declaration_is_checked_when_it_is_made():
    from densekit.activations import activations as module

    before = dict(module._ACTIVATIONS)
    try:
        with pytest.raises(TypeError, match="signature"):
            @module._activation(_k.ACT_RELU)
            def bad1(x, alpha: module.Real = 1.0):
                """No out / n_threads."""
        with pytest.raises(TypeError, match="check annotation"):
            @module._activation(_k.ACT_ELU)
            def bad2(x, alpha=1.0, *, out=None, n_threads=None):
                """No check on alpha."""
        with pytest.raises(TypeError, match="only `axis`"):
            @module._activation(_k.ACT_SOFTMAX, rowwise=True)
            def bad3(x, alpha: module.Real = 1.0, *, out=None, n_threads=None):
                """A row-wise code with a parameter."""

        with pytest.raises(TypeError, match="select"):
            @module._activation({False: _k.ACT_GELU, True: _k.ACT_GELU_TANH})
            def bad4(x, approximate: module.Bool = False, *, out=None, n_threads=None):
                """A code dict without the parameter that selects from it."""

        # One entry is all a new activation needs: public function and fused code.
        @module._activation(_k.ACT_ELU)
        def my_elu(x, alpha: module.NonZeroReal = 0.5, *, out=None, n_threads=None):
            """Test entry."""

        x = np.linspace(-3, 3, 13)
        assert_array_equal(my_elu(x), activations.elu(x, alpha=0.5))
        assert activations.fused_code(my_elu) == (_k.ACT_ELU, 0.5, 0.0, 0.0)
        assert activations.fused_code(functools.partial(my_elu, alpha=2)) == (_k.ACT_ELU, 2.0, 0.0, 0.0)
        with pytest.raises(ValueError, match="alpha"):
            my_elu(x, alpha=0)
        assert my_elu.__doc__ in ("Test entry.", None)
    finally:
        module._ACTIVATIONS.clear()
        module._ACTIVATIONS.update(before)
        for fn in list(module._BY_FUNCTION):
            if fn.__name__ not in before:
                del module._BY_FUNCTION[fn]


# ------------------------------------------- softmax over a tuple of axes

TUPLE_AXES = [
    ((2, 3, 5), (1, 2)),            # Keras' example, adjacent: no copy
    ((2, 3, 4, 5, 6), (2, 3, 4)),   # Keras' example
    ((2, 3, 4, 5, 6), (1, 3)),      # not adjacent: gathered and scattered back
    ((4, 3, 5), (0, 2)),
    ((4, 3, 5), (-1, 0)),           # negative and unsorted
    ((4, 3, 5), (2, 0, 1)),         # all axes
    ((4, 3, 5), (1,)),
    ((6,), (0,)),
    ((3, 0, 4), (0, 2)),            # empty input
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,axis", TUPLE_AXES, ids=str)
def test_softmax_tuple_axis_matches_scipy(shape, axis, dtype):
    x = (np.random.default_rng(11).standard_normal(shape) * 4).astype(dtype)
    x64 = x.astype(np.float64)
    for fn, ref in [(activations.softmax, sp.softmax), (activations.log_softmax, sp.log_softmax)]:
        got = fn(x, axis=axis)
        assert got.dtype == dtype and got.shape == x.shape
        assert_allclose(got, ref(x64, axis=axis), rtol=RTOL[dtype], atol=ATOL[dtype])
        out = np.full_like(x, 7.0)
        assert fn(x, axis=axis, out=out) is out
        assert_array_equal(out, got)
        y = x.copy()
        fn(y, axis=axis, out=y)
        assert_array_equal(y, got)
        assert_array_equal(fn(np.asfortranarray(x), axis=axis), got)
    if x.size:
        assert_allclose(activations.softmax(x, axis=axis).sum(axis=axis), 1.0, rtol=1e-5)


def test_softmax_tuple_axis_threads_edges_and_errors(n_threads):
    x = np.random.default_rng(12).standard_normal((7, 30, 9, 40))
    for axis in [(1, 3), (0, 1), (2, 3)]:
        assert_array_equal(activations.softmax(x, axis=axis, n_threads=n_threads),
                           activations.softmax(x, axis=axis, n_threads=1))
    # One tuple axis is the int axis; no axis normalises each element alone (Keras, scipy).
    assert_array_equal(activations.softmax(x, axis=(2,)), activations.softmax(x, axis=2))
    assert_array_equal(activations.softmax(x, axis=()), np.ones_like(x))
    assert_array_equal(activations.log_softmax(x, axis=()), np.zeros_like(x))
    e = np.array([[np.inf, 0.0], [1.0, np.inf]])
    assert_array_equal(activations.softmax(e, axis=(0, 1)), [[0.5, 0], [0, 0.5]])
    for fn in (activations.softmax, activations.log_softmax):
        for bad in [(1, 1), (1, -3), (0, 4), (-5,)]:
            with pytest.raises(ValueError, match="`axis`"):
                fn(x, axis=bad)
        for bad in [(1.0, 2), (True, 1), [0, 1], "1"]:
            with pytest.raises(TypeError, match="`axis`"):
                fn(x, axis=bad)
