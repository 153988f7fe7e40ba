"""densekit.regularizers: values against math.fsum and exact references, gradients,
threads, validation and the Keras-shaped API."""

import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from densekit import regularizers
from densekit.regularizers import L1, L1L2, L2, OrthogonalRegularizer, Regularizer


def fsum_abs(x):
    return math.fsum(np.abs(np.asarray(x, dtype=np.float64)).ravel().tolist())


def fsum_sq(x):
    x64 = np.asarray(x, dtype=np.float64).ravel()
    return math.fsum((x64 * x64).tolist())  # exact products for float32 input


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (33, 17), (3, 4, 5), (2, 3, 4, 5), (100003,)])
def test_values_against_fsum(dtype, shape, n_threads):
    x = np.asarray(np.random.default_rng(0).standard_normal(shape) * 3, dtype=dtype)
    a, q = fsum_abs(x), fsum_sq(x)
    assert_allclose(L1(0.3)(x, n_threads=n_threads), 0.3 * a, rtol=1e-13)
    assert_allclose(L2(0.7)(x, n_threads=n_threads), 0.7 * q, rtol=1e-13)
    assert_allclose(L1L2(0.3, 0.7)(x, n_threads=n_threads), 0.3 * a + 0.7 * q, rtol=1e-13)
    assert type(L2()(x)) is float


def test_values_on_1e7_float32_match_fsum():
    # L1 gets the same check against an exact integer reference below.
    x = np.random.default_rng(1).standard_normal(10**7).astype(np.float32)
    q = fsum_sq(x)
    assert abs(L2(1.0)(x) - q) <= 1e-10 * q


def _exact_grid_data(n, seed):
    """float32 values k / 2**20 with |k| < 2**23 (24 significant bits) and the exact
    sums of |x| and x**2 as Python integers over 2**20 and 2**40."""
    rng = np.random.default_rng(seed)
    x = np.empty(n, dtype=np.float32)
    total_abs = total_sq = 0
    chunk = 2**16  # 2**16 squares below 2**46 each: an int64 chunk sum stays below 2**62
    for start in range(0, n, 2**23):
        k = rng.integers(-(2**23) + 1, 2**23, size=min(2**23, n - start), dtype=np.int64)
        x[start : start + k.size] = k.astype(np.float32) * np.float32(2.0**-20)
        total_abs += int(np.abs(k).sum())
        sq = k * k
        for s in range(0, sq.size, chunk):
            total_sq += int(sq[s : s + chunk].sum())
    return x, total_abs, total_sq


@pytest.mark.parametrize("n", [10**7, pytest.param(10**8, marks=pytest.mark.slow)])
def test_sums_against_exact_integer_reference(n):
    x, total_abs, total_sq = _exact_grid_data(n, seed=2)
    exact_abs = total_abs / 2.0**20
    exact_sq = total_sq / 2.0**40
    assert abs(L1(1.0)(x) - exact_abs) <= 1e-10 * exact_abs
    assert abs(L2(1.0)(x) - exact_sq) <= 1e-10 * exact_sq
    both = L1L2(1.0, 1.0)(x, n_threads=1)
    assert abs(both - (exact_abs + exact_sq)) <= 1e-10 * (exact_abs + exact_sq)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_values(dtype):
    x = np.random.default_rng(3).standard_normal((1001, 997)).astype(dtype)
    for reg in (L1(0.1), L2(0.2), L1L2(0.1, 0.2)):
        values = {reg(x, n_threads=n) for n in (1, 2, 3, 4)}
        with threadpool_limits(1, user_api="openmp"):
            values.add(reg(x))
        assert len(values) == 1


@pytest.mark.parametrize("layout", ["F", "strided", "readonly", "list", "int"])
def test_layouts_and_array_likes(layout):
    base = np.random.default_rng(4).standard_normal((30, 20))
    x = {
        "F": np.asfortranarray(base),
        "strided": np.repeat(base, 2, axis=0)[::2],
        "readonly": base.copy(),
        "list": base.tolist(),
        "int": (base * 10).astype(np.int32),
    }[layout]
    if layout == "readonly":
        x.flags.writeable = False
    ref = np.asarray(x, dtype=np.float64)
    assert_allclose(L1L2(0.5, 0.25)(x), 0.5 * fsum_abs(ref) + 0.25 * fsum_sq(ref), rtol=1e-13)


def test_defaults_and_zero_terms():
    x = np.array([1.0, -2.0, np.inf])
    assert L1L2()(x) == 0.0  # both factors 0: no term at all, as Keras
    assert L1L2(l1=0.5)(x[:2]) == 1.5
    assert math.isinf(L1L2(l2=0.5)(x))
    assert math.isnan(L1(0.0)(x))  # Keras' L1 keeps 0 * inf
    assert L1()(np.ones(10)) == pytest.approx(0.1)
    assert L2()(np.ones(10)) == pytest.approx(0.1)
    assert L1(None).l1 == 0.01 and L2(None).l2 == 0.01
    assert L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}
    assert L1()(np.zeros((0, 3))) == 0.0
    assert math.isnan(L2()(np.array([1.0, np.nan])))
    assert Regularizer()(np.ones(3)) == 0.0


def test_float32_sums_do_not_overflow():
    x = np.full(1000, 1e30, dtype=np.float32)
    assert_allclose(L2(1.0)(x), 1000 * float(np.float32(1e30)) ** 2, rtol=1e-13)


# --- gradients -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_l1l2_gradients(dtype, order, n_threads):
    x = np.asarray(np.random.default_rng(5).standard_normal((40, 31)), dtype=dtype, order=order)
    x[0, :5] = 0
    x64 = x.astype(np.float64)
    cases = [
        (L1(0.3), 0.3 * np.sign(x64)),
        (L2(0.7), 1.4 * x64),
        (L1L2(0.3, 0.7), 0.3 * np.sign(x64) + 1.4 * x64),
        (L1L2(0.0, 0.7), 1.4 * x64),
        (L1L2(), np.zeros_like(x64)),
    ]
    for reg, expected in cases:
        g = reg.gradient(x, n_threads=n_threads)
        assert g.dtype == dtype and g.shape == x.shape
        assert_array_equal(g, expected.astype(dtype))  # one rounding from float64
        assert np.all(g[0, :5] == 0) or isinstance(reg, (L2, L1L2))
        out = np.empty_like(x)
        assert reg.gradient(x, out=out, n_threads=n_threads) is out
        assert_array_equal(out, g)
        y = x.copy(order="K")
        assert reg.gradient(y, out=y) is y
        assert_array_equal(y, g)


def test_l1_gradient_is_zero_at_zero_and_nan_propagates():
    x = np.array([0.0, -0.0, 2.0, -3.0, np.nan, np.inf, -np.inf])
    g = L1(0.5).gradient(x)
    assert_array_equal(g[:4], [0, 0, 0.5, -0.5])
    assert np.isnan(g[4]) and g[5] == 0.5 and g[6] == -0.5
    g = L2(0.5).gradient(x)
    assert np.isnan(g[4]) and g[5] == np.inf
    g = Regularizer().gradient(x)
    assert_array_equal(g, np.zeros(7))


def _central_difference(reg, x, h=1e-6):
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd[idx] = (reg(xp) - reg(xm)) / (2 * h)
    return fd


# --- orthogonal regularizer ------------------------------------------------------------------


def ortho_ref(x, factor, mode):
    x = np.asarray(x, dtype=np.float64)
    m = x if mode == "rows" else x.T
    norms = np.sqrt(np.sum(m * m, axis=1, keepdims=True))
    y = np.where(norms > 0, m / np.where(norms > 0, norms, 1), m)
    p = y @ y.T
    size = p.shape[0]
    off = np.abs(p - np.diag(np.diag(p)))
    return factor * 0.5 * math.fsum(off.ravel().tolist()) / (size * (size - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(2, 2), (5, 9), (9, 5), (40, 40), (3, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_orthogonal_values(mode, shape, dtype):
    x = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    got = OrthogonalRegularizer(0.2, mode)(x)
    assert type(got) is float
    assert_allclose(got, ortho_ref(x, 0.2, mode), rtol=1e-12)


def test_orthogonal_columns_is_rows_of_transpose():
    x = np.random.default_rng(7).standard_normal((6, 11))
    cols = OrthogonalRegularizer(0.5, "columns")
    rows = OrthogonalRegularizer(0.5, "rows")
    assert_allclose(cols(x), rows(x.T), rtol=1e-14)
    assert_allclose(cols.gradient(x), rows.gradient(x.T).T, rtol=1e-13)


def test_orthogonal_known_values():
    eye = np.eye(4)
    assert OrthogonalRegularizer(1.0)(eye) == 0.0
    assert OrthogonalRegularizer(1.0)(eye * 5) == 0.0  # scale does not matter
    assert_allclose(OrthogonalRegularizer(1.0)(np.ones((3, 3))), 1.0, rtol=1e-15)
    # Two rows at 45 degrees: cosine 1/sqrt(2).
    assert_allclose(OrthogonalRegularizer(0.3)([[1.0, 0.0], [2.0, 2.0]]), 0.3 / np.sqrt(2),
                    rtol=1e-15)


def test_orthogonal_zero_rows_left_alone():
    x = np.random.default_rng(8).standard_normal((5, 4))
    x[2] = 0
    reg = OrthogonalRegularizer(1.0)
    assert_allclose(reg(x), ortho_ref(x, 1.0, "rows"), rtol=1e-13)
    assert np.all(reg.gradient(x)[2] == 0)
    assert np.isfinite(reg(np.zeros((3, 3)))) and reg(np.zeros((3, 3))) == 0.0


def test_orthogonal_single_pair_is_nan_like_keras():
    assert math.isnan(OrthogonalRegularizer()(np.ones((1, 5))))
    assert math.isnan(OrthogonalRegularizer(mode="columns")(np.ones((5, 1))))
    assert math.isnan(OrthogonalRegularizer()(np.ones((0, 5))))
    assert np.all(np.isnan(OrthogonalRegularizer().gradient(np.ones((1, 5)))))


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5)])
def test_orthogonal_gradient_matches_central_difference(mode, shape):
    x = np.random.default_rng(9).standard_normal(shape)
    reg = OrthogonalRegularizer(0.7, mode)
    g = reg.gradient(x)
    fd = _central_difference(reg, x)
    # Central differences of a smooth function: error ~ h**2 * f''' + eps / h ~ 1e-10.
    assert_allclose(g, fd, rtol=0, atol=1e-8 * max(1.0, np.abs(fd).max()))
    assert np.abs(g).max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_orthogonal_gradient_out_and_dtype(dtype, order):
    x = np.asarray(np.random.default_rng(10).standard_normal((7, 5)), dtype=dtype, order=order)
    for mode in ("rows", "columns"):
        reg = OrthogonalRegularizer(0.4, mode)
        expected = reg.gradient(x.astype(np.float64))
        g = reg.gradient(x)
        assert g.dtype == dtype
        assert_allclose(g, expected.astype(dtype), rtol=1e-6 if dtype == np.float32 else 1e-12,
                        atol=1e-7 * np.abs(expected).max())
        out = np.empty_like(x)
        assert reg.gradient(x, out=out) is out
        assert_array_equal(out, g)


def test_orthogonal_thread_invariance():
    x = np.random.default_rng(11).standard_normal((64, 30)).astype(np.float32)
    for mode in ("rows", "columns"):
        reg = OrthogonalRegularizer(0.1, mode)
        assert len({reg(x, n_threads=n) for n in (1, 2, 4)}) == 1


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_orthogonal_needs_rank_2(shape):
    with pytest.raises(ValueError, match=r"Inputs to OrthogonalRegularizer must have rank 2\. "
                                         rf"Received: inputs\.shape={re_shape(shape)}"):
        OrthogonalRegularizer()(np.ones(shape))
    with pytest.raises(ValueError, match="must have rank 2"):
        OrthogonalRegularizer().gradient(np.ones(shape))


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf"), "a", True, [0.1]])
@pytest.mark.parametrize(
    "cls,name",
    [(L1, "l1"), (L2, "l2"), (lambda v: L1L2(l1=v), "l1"), (lambda v: L1L2(l2=v), "l2"),
     (OrthogonalRegularizer, "factor")],
)
def test_bad_factors_keras_wording(cls, name, value):
    msg = (f"Invalid value for argument {name}: expected a non-negative float."
           f"Received: {name}={value}")
    with pytest.raises(ValueError, match=f"^{re_escape(msg)}$"):
        cls(value)


def re_escape(s):
    import re

    return re.escape(s)


def test_orthogonal_factor_none_and_bad_mode():
    with pytest.raises(ValueError, match="Invalid value for argument factor"):
        OrthogonalRegularizer(factor=None)
    msg = 'Invalid value for argument `mode`. Expected one of {"rows", "columns"}. Received: mode=cols'
    with pytest.raises(ValueError, match=re_escape(msg)):
        OrthogonalRegularizer(mode="cols")


def test_bad_call_arguments():
    x = np.ones((4, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="Argument `x` must hold real numbers"):
        L2()(np.ones(3, dtype=complex))
    with pytest.raises(ValueError, match="Argument `n_threads` must be a non-zero integer"):
        L1()(x, n_threads=0)
    sentinel = np.full((4, 3), 7.0, dtype=np.float32)
    with pytest.raises(ValueError, match="Argument `n_threads`"):
        L1().gradient(x, out=sentinel, n_threads=0)
    assert np.all(sentinel == 7)
    with pytest.raises(TypeError, match="Argument `out` must have dtype float32"):
        L1().gradient(x, out=np.empty((4, 3)))
    with pytest.raises(ValueError, match=r"Argument `out` must have shape \(4, 3\)"):
        L2().gradient(x, out=np.empty((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"Argument `out` must have shape \(4, 3\)"):
        OrthogonalRegularizer().gradient(x, out=np.empty((3, 4), np.float32))


# --- Keras-shaped API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,cls",
    [("L1", L1), ("l1", L1), ("L2", L2), ("l2", L2), ("L1L2", L1L2), ("l1l2", L1L2),
     ("l1_l2", L1L2), ("OrthogonalRegularizer", OrthogonalRegularizer),
     ("orthogonal_regularizer", OrthogonalRegularizer), ("Regularizer", Regularizer)],
)
def test_get_by_name(name, cls):
    obj = regularizers.get(name)
    assert type(obj) is cls
    assert obj.get_config() == cls().get_config()


def test_defaults_match_keras():
    assert L1().get_config() == {"l1": 0.01}
    assert L2().get_config() == {"l2": 0.01}
    assert L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert OrthogonalRegularizer().get_config() == {"factor": 0.01, "mode": "rows"}
    assert L1(0.3).get_config() == {"l1": 0.3}  # a Python float, not Keras' float32
    assert type(L2(1).get_config()["l2"]) is float
    assert regularizers.l1 is L1 and regularizers.l2 is L2 and regularizers.l1_l2 is L1L2
    assert regularizers.orthogonal_regularizer is OrthogonalRegularizer


@pytest.mark.parametrize("bad", ["L1_L2", "l1L2", "ortho", "L3", 1.0, 7])
def test_get_unknown(bad):
    with pytest.raises(ValueError, match=f"Could not interpret regularizer identifier: {bad}"):
        regularizers.get(bad)


@pytest.mark.parametrize(
    "reg", [L1(0.25), L2(0.5), L1L2(0.1, 0.2), OrthogonalRegularizer(0.3, "columns"),
            Regularizer()]
)
def test_serialize_round_trip(reg):
    s = regularizers.serialize(reg)
    assert s == {"module": "densekit.regularizers", "class_name": type(reg).__name__,
                 "config": reg.get_config(), "registered_name": None}
    x = np.random.default_rng(12).standard_normal((6, 5))
    for again in (regularizers.deserialize(s), regularizers.get(s),
                  regularizers.get(json.loads(json.dumps(s))),
                  type(reg).from_config(reg.get_config())):
        assert type(again) is type(reg)
        assert again.get_config() == reg.get_config()
        assert again(x) == reg(x)
    assert regularizers.serialize(None) is None
    assert regularizers.get(None) is None
    assert regularizers.get(reg) is reg
    assert isinstance(regularizers.get(L2), L2)


def test_deserialize_custom_objects_and_errors():
    class Mine(Regularizer):
        def __init__(self, k=1.0):
            self.k = k

        def __call__(self, x, n_threads=None):
            return self.k

        def get_config(self):
            return {"k": self.k}

    obj = regularizers.deserialize({"class_name": "Mine", "config": {"k": 2.0}},
                                   custom_objects={"Mine": Mine})
    assert isinstance(obj, Mine) and obj(None) == 2.0
    assert isinstance(regularizers.deserialize("l1_l2"), L1L2)
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
        regularizers.deserialize({"class_name": "Nope"})
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: x"):
        regularizers.deserialize("x")
    with pytest.raises(TypeError, match="Argument `regularizer` must be a Regularizer"):
        regularizers.serialize("l1")

    def fn(x):
        return 0.0

    assert regularizers.get(fn) is fn
