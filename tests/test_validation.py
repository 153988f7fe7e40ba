"""The shared argument checks of densekit._validation (private helpers)."""

import numpy as np
import pytest

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
