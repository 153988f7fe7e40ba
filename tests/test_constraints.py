"""densekit.constraints: Keras formulas against float64 numpy references, layouts,
threads, edge cases, validation and the Keras-shaped API."""

import itertools
import json
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from densekit import constraints
from densekit.constraints import Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm

EPS = 1e-7


# --- float64 references: Keras' expressions, written out with numpy --------------------------


def ref(constraint, w):
    w64 = np.asarray(w, dtype=np.float64)
    if isinstance(constraint, NonNeg):
        return np.maximum(w64, 0)
    cfg = constraint.get_config()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        norms = np.sqrt(np.sum(np.square(w64), axis=cfg["axis"], keepdims=True))
        if isinstance(constraint, MaxNorm):
            return w64 * np.clip(norms, 0, cfg["max_value"]) / (EPS + norms)
        if isinstance(constraint, MinMaxNorm):
            desired = cfg["rate"] * np.clip(norms, cfg["min_value"], cfg["max_value"]) + (
                1 - cfg["rate"]
            ) * norms
            return w64 * desired / (EPS + norms)
        return w64 / (EPS + norms)


def check_against_ref(constraint, w, got):
    expected = ref(constraint, w)
    assert got.dtype == (w.dtype if w.dtype in (np.float32, np.float64) else np.float32)
    assert got.shape == w.shape
    if got.dtype == np.float32:
        # One rounding from the float64 result: compare with the reference cast.
        assert_allclose(got, expected.astype(np.float32), rtol=1e-6, atol=0)
    else:
        assert_allclose(got, expected, rtol=1e-12, atol=0)


def all_axis_forms(ndim):
    """Every int, negative int and tuple (in either order, with negatives) axis for a rank."""
    forms = []
    for k in range(1, ndim + 1):
        for combo in itertools.combinations(range(ndim), k):
            forms.append(combo if k > 1 else combo[0])
            neg = tuple(a - ndim for a in combo)
            forms.append(neg if k > 1 else neg[0])
            if k > 1:
                forms.append(tuple(reversed(combo)))
    return forms


SHAPES = {1: (7,), 2: (13, 9), 3: (4, 5, 6), 4: (3, 4, 2, 5)}
NORM_CONSTRAINTS = [
    lambda axis: MaxNorm(max_value=1.5, axis=axis),
    lambda axis: MinMaxNorm(min_value=0.8, max_value=1.7, rate=0.6, axis=axis),
    lambda axis: UnitNorm(axis=axis),
]


@pytest.mark.parametrize("make", NORM_CONSTRAINTS, ids=["max", "minmax", "unit"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_every_axis_form_every_rank(make, dtype, ndim):
    rng = np.random.default_rng(ndim)
    w = rng.standard_normal(SHAPES[ndim]).astype(dtype)
    for axis in all_axis_forms(ndim):
        c = make(axis)
        check_against_ref(c, w, c(w))


@pytest.mark.parametrize("make", NORM_CONSTRAINTS, ids=["max", "minmax", "unit"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided", "readonly"])
@pytest.mark.parametrize("axis", [0, 1, -1, (0, 1)])
def test_layouts(make, dtype, layout, axis):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((40, 30)).astype(dtype) * 2
    w = {
        "C": base,
        "F": np.asfortranarray(base),
        "strided": np.repeat(base, 2, axis=1)[:, ::2],
        "readonly": base.copy(),
    }[layout]
    if layout == "readonly":
        w.flags.writeable = False
    before = w.copy()
    c = make(axis)
    got = c(w)
    check_against_ref(c, w, got)
    assert_array_equal(w, before)  # the input is never touched
    if layout == "F":
        assert got.flags.f_contiguous  # F input gives F output without a copy


@pytest.mark.parametrize("make", NORM_CONSTRAINTS + [lambda axis: NonNeg()],
                         ids=["max", "minmax", "unit", "nonneg"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_out_and_in_place(make, dtype, order):
    rng = np.random.default_rng(2)
    w = np.asarray(rng.standard_normal((64, 48)) * 3, dtype=dtype, order=order)
    c = make(0)
    expected = c(w)
    out = np.empty_like(w)
    res = c(w, out=out)
    assert res is out
    assert_array_equal(out, expected)
    w2 = w.copy(order="K")
    res = c(w2, out=w2)
    assert res is w2
    assert_array_equal(w2, expected)


def test_out_of_other_layout_than_input():
    w = np.random.default_rng(3).standard_normal((20, 10))
    c = MaxNorm(1.0, axis=0)
    expected = c(w)
    # The layout picks the summation order (column sweep or row dot), so the
    # last bit may differ between layouts; thread counts never change it.
    out_c = np.empty((20, 10))
    assert c(np.asfortranarray(w), out=out_c) is out_c
    assert_allclose(out_c, expected, rtol=1e-15)
    out_f = np.empty((20, 10), order="F")
    assert c(w, out=out_f) is out_f
    assert_allclose(out_f, expected, rtol=1e-15)


def test_partially_overlapping_out_is_safe():
    buf = np.random.default_rng(4).standard_normal(300)
    w = buf[:200].reshape(20, 10)
    expected = ref(UnitNorm(axis=0), w.copy())
    out = buf[100:].reshape(20, 10)
    UnitNorm(axis=0)(w, out=out)
    assert_allclose(out, expected, rtol=1e-12)


def test_in_place_uses_no_large_temporary():
    w = np.random.default_rng(5).standard_normal((2048, 1024)).astype(np.float32)
    for c in [MaxNorm(1.0, axis=0), UnitNorm(axis=-1), MaxNorm(1.0, axis=(0, 1)), NonNeg()]:
        tracemalloc.start()
        try:
            c(w, out=w)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # Norm scratch is at most 64 float64 partial rows of length n_cols (512 KiB here).
        assert peak < w.nbytes // 8, (c, peak)


def test_integer_and_bool_input_become_float32():
    w = np.arange(12).reshape(4, 3)
    got = UnitNorm()(w)
    assert got.dtype == np.float32
    check_against_ref(UnitNorm(), w.astype(np.float32), got)
    assert NonNeg()(np.array([True, False])).dtype == np.float32
    assert MaxNorm()([[3.0, 4.0]]).dtype == np.float64  # Python floats are float64


@pytest.mark.parametrize("shape,axis", [((1200, 700), 0), ((700, 1200), 1), ((2, 40000), 1),
                                         ((50, 60, 70), (1, 2)), ((9, 100001), 0),
                                         ((5, 300, 40), 1), ((120000,), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_results(shape, axis, dtype):
    w = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    for c in (MaxNorm(1.0, axis), MinMaxNorm(0.5, 1.0, 0.7, axis), UnitNorm(axis)):
        results = [c(w, n_threads=n) for n in (1, 2, 3, 4)]
        for r in results[1:]:
            assert_array_equal(r, results[0])
        with threadpool_limits(1, user_api="openmp"):
            assert_array_equal(c(w), results[0])
        check_against_ref(c, w, results[0])


def test_nonneg_threads(n_threads):
    w = np.random.default_rng(7).standard_normal(100003).astype(np.float32)
    assert_array_equal(NonNeg()(w, n_threads=n_threads), np.maximum(w, 0))


# --- edge cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_columns_stay_zero(dtype):
    w = np.random.default_rng(8).standard_normal((30, 6)).astype(dtype)
    w[:, [1, 4]] = 0
    for c in (MaxNorm(1.0), MinMaxNorm(0.5, 2.0), UnitNorm(), MinMaxNorm(1.0, 1.0, rate=0.3)):
        got = c(w)
        assert np.all(got[:, [1, 4]] == 0)
        assert np.all(np.isfinite(got))
        check_against_ref(c, w, got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_propagate_like_keras(dtype):
    w = np.ones((4, 5), dtype=dtype)
    w[1, 0] = np.nan
    w[2, 1] = np.inf
    w[3, 2] = -np.inf
    for c in (MaxNorm(1.0), MinMaxNorm(0.5, 2.0, rate=0.5), MinMaxNorm(0.5, 2.0), UnitNorm()):
        got = c(w)
        exp = ref(c, w).astype(dtype)
        assert_array_equal(np.isnan(got), np.isnan(exp))
        assert_allclose(got[~np.isnan(exp)], exp[~np.isnan(exp)], rtol=1e-6)
        assert np.all(np.isnan(got[:, 0]))  # NaN in a column poisons that column
    nn = NonNeg()(w)
    assert np.isnan(nn[1, 0]) and nn[2, 1] == np.inf and nn[3, 2] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_and_huge_values(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    w = np.array([[tiny, 3 * tiny], [2 * tiny, 0.0]], dtype=dtype)
    for c in (MaxNorm(1.0), UnitNorm(), MinMaxNorm(0.0, 1.0)):
        got = c(w)
        assert np.all(np.isfinite(got))
        check_against_ref(c, w, got)
    # Norms accumulate in float64, so float32 squares beyond float32's range are fine.
    big = np.full((3, 2), 1e30, dtype=np.float32)
    got = UnitNorm()(big)
    assert_allclose(got, np.full((3, 2), 1 / np.sqrt(3), dtype=np.float32), rtol=1e-6)
    assert_array_equal(NonNeg()(np.array([-tiny, tiny], dtype=dtype)), [0, tiny])


@pytest.mark.parametrize("shape,axis", [((0, 5), 0), ((5, 0), 0), ((0,), 0), ((3, 0, 2), (0, 2))])
def test_empty_arrays(shape, axis):
    w = np.zeros(shape, dtype=np.float32)
    for c in (MaxNorm(axis=axis), UnitNorm(axis=axis), NonNeg()):
        got = c(w)
        assert got.shape == shape and got.dtype == np.float32
        out = np.empty(shape, np.float32)
        assert c(w, out=out) is out


def test_size_one_axes_and_zero_dim():
    w = np.random.default_rng(9).standard_normal((1, 5, 1, 4))
    for axis in [0, 2, (0, 2), (1, 2), (0, 3), (0, 1, 2, 3)]:
        c = UnitNorm(axis)
        check_against_ref(c, w, c(w))
    scalar = np.array(-2.0)
    assert NonNeg()(scalar).shape == () and NonNeg()(scalar) == 0
    with pytest.raises(ValueError, match="out of bounds for an array of rank 0"):
        MaxNorm()(scalar)


def test_maxnorm_leaves_short_columns_nearly_alone():
    w = np.array([[0.3], [0.4]])
    got = MaxNorm(2.0)(w)
    assert_allclose(got, w * 0.5 / (0.5 + 1e-7), rtol=1e-15)  # Keras' epsilon effect
    got = MaxNorm(0.25)(w)
    assert_allclose(np.linalg.norm(got), 0.25, rtol=1e-6)


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: MaxNorm(max_value=-1), "Argument `max_value` must be >= 0"),
        (lambda: MaxNorm(max_value=float("nan")), "Argument `max_value` must be a finite number"),
        (lambda: MaxNorm(max_value="2"), "Argument `max_value` must be a finite number"),
        (lambda: MaxNorm(axis=1.0), "Argument `axis` must be an int or a tuple of ints"),
        (lambda: MaxNorm(axis=(0, "a")), "Argument `axis` must be an int or a tuple of ints"),
        (lambda: UnitNorm(axis=True), "Argument `axis` must be an int or a tuple of ints"),
        (lambda: UnitNorm(axis=()), "non-empty tuple"),
        (lambda: MinMaxNorm(min_value=-0.1), "Argument `min_value` must be >= 0"),
        (lambda: MinMaxNorm(min_value=2.0, max_value=1.0), "`max_value` must be >= `min_value`"),
        (lambda: MinMaxNorm(rate=1.5), "Argument `rate` must be <= 1"),
        (lambda: MinMaxNorm(rate=-0.5), "Argument `rate` must be >= 0"),
        (lambda: MinMaxNorm(max_value=float("inf")), "Argument `max_value` must be a finite"),
    ],
)
def test_bad_constructor_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_bad_call_arguments_leave_out_untouched():
    w = np.ones((4, 3), dtype=np.float32)
    c = MaxNorm(1.0, axis=0)
    sentinel = np.full((4, 3), 7.0, dtype=np.float32)
    with pytest.raises(ValueError, match="out of bounds for an array of rank 2"):
        MaxNorm(axis=2)(w, out=sentinel)
    with pytest.raises(ValueError, match="out of bounds"):
        MaxNorm(axis=(0, -3))(w, out=sentinel)
    with pytest.raises(ValueError, match="repeated axes"):
        MaxNorm(axis=(0, -2))(w, out=sentinel)
    with pytest.raises(ValueError, match="Argument `n_threads` must be a non-zero integer"):
        c(w, out=sentinel, n_threads=0)
    with pytest.raises(TypeError, match="Argument `n_threads` must be an integer"):
        c(w, out=sentinel, n_threads=1.5)
    assert np.all(sentinel == 7.0)
    with pytest.raises(TypeError, match="Argument `out` must have dtype float32"):
        c(w, out=np.empty((4, 3)))
    with pytest.raises(ValueError, match=r"Argument `out` must have shape \(4, 3\)"):
        c(w, out=np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="Argument `out` must be a numpy.ndarray"):
        c(w, out=[[0.0] * 3] * 4)
    ro = np.empty((4, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="Argument `out` must be writable"):
        c(w, out=ro)
    with pytest.raises(ValueError, match="Argument `out` must be C-contiguous"):
        c(w, out=np.empty((4, 6), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="Argument `w` must hold real numbers"):
        c(np.ones((2, 2), dtype=complex))
    with pytest.raises(TypeError, match="Argument `w` must hold real numbers"):
        NonNeg()(np.array(["a"]))


# --- Keras-shaped API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,cls",
    [("MaxNorm", MaxNorm), ("max_norm", MaxNorm), ("MinMaxNorm", MinMaxNorm),
     ("min_max_norm", MinMaxNorm), ("NonNeg", NonNeg), ("non_neg", NonNeg),
     ("UnitNorm", UnitNorm), ("unit_norm", UnitNorm), ("Constraint", Constraint)],
)
def test_get_by_name_gives_default_instance(name, cls):
    obj = constraints.get(name)
    assert type(obj) is cls
    assert obj.get_config() == cls().get_config()


def test_defaults_match_keras():
    assert MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    assert UnitNorm().get_config() == {"axis": 0}
    assert NonNeg().get_config() == {}
    assert constraints.max_norm is MaxNorm and constraints.min_max_norm is MinMaxNorm
    assert constraints.non_neg is NonNeg and constraints.unit_norm is UnitNorm
    assert set(constraints.ALL_OBJECTS) == {Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm}


@pytest.mark.parametrize("bad", ["maxnorm", "Max_Norm", "MAXNORM", "l2", 3, 2.5])
def test_get_unknown(bad):
    with pytest.raises(ValueError, match=f"Could not interpret constraint identifier: {bad}"):
        constraints.get(bad)


def test_get_passthrough_and_classes():
    assert constraints.get(None) is None
    c = MaxNorm(3)
    assert constraints.get(c) is c
    assert isinstance(constraints.get(UnitNorm), UnitNorm)

    def fn(w):
        return w

    assert constraints.get(fn) is fn


@pytest.mark.parametrize(
    "c",
    [MaxNorm(3.5, axis=(0, 1)), MinMaxNorm(0.1, 2, 0.5, axis=-1), NonNeg(), UnitNorm(axis=1),
     Constraint()],
)
def test_serialize_round_trip(c):
    s = constraints.serialize(c)
    assert s == {"module": "densekit.constraints", "class_name": type(c).__name__,
                 "config": c.get_config(), "registered_name": None}
    for again in (constraints.deserialize(s), constraints.get(s),
                  constraints.get(json.loads(json.dumps(s))), type(c).from_config(c.get_config())):
        assert type(again) is type(c)
        w = np.random.default_rng(10).standard_normal((5, 4))
        assert_array_equal(again(w), c(w))
    assert constraints.serialize(None) is None


def test_deserialize_names_custom_objects_and_errors():
    assert isinstance(constraints.deserialize("unit_norm"), UnitNorm)

    class Mine(Constraint):
        def __init__(self, k=1):
            self.k = k

        def get_config(self):
            return {"k": self.k}

    obj = constraints.deserialize({"class_name": "Mine", "config": {"k": 4}},
                                  custom_objects={"Mine": Mine})
    assert isinstance(obj, Mine) and obj.k == 4
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        constraints.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        constraints.deserialize({"config": {}})
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: nope"):
        constraints.deserialize("nope")
    with pytest.raises(TypeError, match="Argument `constraint` must be a Constraint"):
        constraints.serialize(3)


def test_axis_is_stored_as_given_form():
    # issue 10 item 18: Keras' config keeps a list a list (this test pinned (0, 1))
    assert MaxNorm(axis=[0, 1]).get_config()["axis"] == [0, 1]
    assert MaxNorm(axis=(0, 1)).get_config()["axis"] == (0, 1)
    for cls in (MaxNorm, MinMaxNorm, UnitNorm):
        given = [np.int64(0), 1]
        init = cls(axis=given)
        config = init.get_config()
        assert config["axis"] == [0, 1] and type(config["axis"]) is list
        assert all(type(a) is int for a in config["axis"])
        given.append(2)  # neither the caller's list ...
        config["axis"].append(5)  # ... nor the returned config changes the constraint
        assert init.get_config()["axis"] == [0, 1]
        assert cls.from_config(init.get_config()).get_config() == init.get_config()
        w = np.arange(12.0).reshape(3, 4) + 1
        assert_array_equal(init(w), cls(axis=(0, 1))(w))
    assert MaxNorm(axis=np.int64(1)).get_config()["axis"] == 1
    assert type(MaxNorm(axis=np.int64(1)).get_config()["axis"]) is int
    assert repr(MaxNorm()) == "MaxNorm(max_value=2, axis=0)"


def test_base_constraint_is_identity():
    w = np.arange(4.0)
    assert Constraint()(w) is w
    out = np.empty(4)
    assert Constraint()(w, out=out) is out
    assert_array_equal(out, w)


# --- property test: random shapes, axis sets and layouts -------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def array_and_axis(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    axes = [a - ndim if draw(st.booleans()) else a for a in axes]
    axis = tuple(axes) if len(axes) > 1 or draw(st.booleans()) else axes[0]
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    layout = draw(st.sampled_from(["C", "F", "T", "strided"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(dtype) * dtype(rng.uniform(0.1, 5))
    if layout == "F":
        w = np.asfortranarray(w)
    elif layout == "T":
        w = np.ascontiguousarray(w.T).T  # a transposed view of a C array
    elif layout == "strided" and ndim:
        w = np.repeat(w, 2, axis=-1)[..., ::2]
    return w, axis


@settings(max_examples=80, deadline=None)
@given(array_and_axis(), st.sampled_from(["max", "minmax", "unit"]), st.booleans())
def test_property_matches_reference(data, kind, in_place):
    w, axis = data
    c = {"max": MaxNorm(1.3, axis), "minmax": MinMaxNorm(0.5, 1.5, 0.8, axis),
         "unit": UnitNorm(axis)}[kind]
    if in_place:
        got = w.copy(order="K")  # C or F contiguous
        assert c(got, out=got) is got
    else:
        got = c(w)
    check_against_ref(c, w, got)
