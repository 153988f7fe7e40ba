"""The shared argument checks of densekit._validation: the private helpers, and
through the public functions.

Issue 10.14: big-endian float64 input was silently downcast to float32 in activations,
constraints and regularizers (``relu(np.array([1 + 1e-12], '>f8'))`` gave float32 1.0).
Issue 10.16: an ``np.matrix`` as ``out=`` failed with a buffer/reshape error.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from densekit import activations, constraints, initializers, regularizers
from densekit._validation import check_float, check_int


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_check_int_accepts_integers(value):
    assert check_int(value, "n") == 3 and type(check_int(value, "n")) is int


@pytest.mark.parametrize("value", [True, np.bool_(False), 3.0, "3", None, [3]])
def test_check_int_rejects_bools_and_non_integers(value):
    with pytest.raises(ValueError, match=r"^Argument `n` must be an integer\. Received: n="):
        check_int(value, "n")


def test_check_int_options():
    assert check_int(None, "n", allow_none=True) is None
    with pytest.raises(ValueError, match=r"`n` must be an integer >= 1\. Received: n=0$"):
        check_int(0, "n", minimum=1)
    with pytest.raises(ValueError):
        check_int(np.int64(3), "seed", index=False)  # Python ints only
    with pytest.raises(TypeError, match="^custom$"):
        check_int("x", "n", error=TypeError, message=lambda: "custom")


@pytest.mark.parametrize("value", [2, 2.5, np.float32(2.5), np.int64(2)])
def test_check_float_accepts_real_numbers(value):
    assert check_float(value, "x") == float(value)


@pytest.mark.parametrize("value", [True, np.bool_(True), "1", None, float("nan"),
                                   float("inf"), 10**400, 1j])
def test_check_float_rejects(value):
    # 10**400 used to escape as OverflowError
    with pytest.raises(ValueError, match=r"^Argument `x` must be a finite number\. Received: x="):
        check_float(value, "x")


def test_check_float_bounds_and_message():
    assert check_float(0, "x", minimum=0) == 0.0
    with pytest.raises(ValueError, match=r"`x` must be > 0\. Received: x=0$"):
        check_float(0, "x", minimum=0, exclusive=True)
    with pytest.raises(ValueError, match=r"`x` must be >= 0\. Received: x=-1$"):
        check_float(-1, "x", minimum=0)
    with pytest.raises(ValueError, match="^Keras words$"):
        check_float(-1, "x", minimum=0, message="Keras words")


X64 = np.array([[1 + 1e-12, -2.0, 0.5], [3.0, 1e-300, -1e-12]])


@pytest.mark.parametrize("order", [">", "<", "="])
@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax", "gelu", "linear"])
def test_activations_keep_float64_in_any_byte_order(order, name):
    x = X64.astype(np.dtype("f8").newbyteorder(order))
    fn = activations.get(name)
    y = fn(x)
    assert y.dtype == np.float64 and y.dtype.isnative
    assert_array_equal(y, fn(X64))


def test_relu_reproducer():
    y = activations.relu(np.array([1 + 1e-12], ">f8"))
    assert y.dtype == np.float64 and y[0] == 1 + 1e-12


@pytest.mark.parametrize("order", [">", "<"])
def test_float32_in_any_byte_order_stays_float32(order):
    x = X64.astype(np.dtype("f4").newbyteorder(order))
    y = activations.relu(x)
    assert y.dtype == np.float32 and y.dtype.isnative
    assert_array_equal(y, activations.relu(X64.astype(np.float32)))


@pytest.mark.parametrize(
    "constraint",
    [constraints.MaxNorm(1.5, axis=0), constraints.NonNeg(), constraints.UnitNorm(axis=1),
     constraints.MinMaxNorm(0.5, 1.0, axis=0)],
    ids=lambda c: type(c).__name__,
)
def test_constraints_keep_big_endian_float64(constraint):
    y = constraint(X64.astype(">f8"))
    assert y.dtype == np.float64
    assert_array_equal(y, constraint(X64))


@pytest.mark.parametrize(
    "regularizer",
    [regularizers.L1(0.01), regularizers.L2(0.01), regularizers.L1L2(0.01, 0.02),
     regularizers.OrthogonalRegularizer(0.01)],
    ids=lambda r: type(r).__name__,
)
def test_regularizers_keep_big_endian_float64(regularizer):
    big = X64.astype(">f8")
    assert float(regularizer(big)) == float(regularizer(X64))


def test_l2_difference_visible_only_in_float64():
    # 1 + 1e-12 squared differs from 1 only in float64: a float32 downcast loses it.
    x = np.array([1 + 1e-12], ">f8")
    assert float(regularizers.L2(1.0)(x)) == float(regularizers.L2(1.0)(x.astype("f8")))
    assert float(regularizers.L2(1.0)(x)) != 1.0


MATRIX_MSG = r"Argument `out` must be a numpy.ndarray, not a numpy.matrix"


def test_matrix_as_out_is_a_clear_type_error():
    with pytest.warns(PendingDeprecationWarning, match="matrix subclass"):
        m = np.matrix(np.zeros((2, 3), np.float32))
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=MATRIX_MSG):
        activations.relu(x, out=m)
    with pytest.raises(TypeError, match=MATRIX_MSG):
        activations.softmax(x, out=m)
    with pytest.raises(TypeError, match=MATRIX_MSG):
        initializers.Ones()((2, 3), out=m)
    with pytest.raises(TypeError, match=MATRIX_MSG):
        constraints.NonNeg()(x, out=m)
    assert_array_equal(m, 0)  # never written
