"""IEEE scalar arithmetic on Python floats, and rounding to float32.

An optimizer step needs a handful of scalars (bias corrections, the learning
rate) in the parameter's precision. Keras computes them as float32 tensor
operations; a float32 +, -, *, / or sqrt equals the same operation on the
operands as doubles rounded once to float32, so composing these helpers with
:func:`round32` reproduces float32 arithmetic exactly (``pow`` may differ from
XLA's by an ulp) at a fraction of numpy scalars' cost. The helpers return
inf or NaN where Python would raise.
"""

import math
import struct

__all__ = ["div", "identity", "pow_", "round32", "rounder", "sqrt"]

_F32 = struct.Struct("f")
_pack = _F32.pack
_unpack = _F32.unpack
_INF = math.inf
_NAN = math.nan


def round32(x):
    """`x` rounded to the nearest float32 (overflow gives +-inf)."""
    try:
        return _unpack(_pack(x))[0]
    except OverflowError:
        return math.copysign(_INF, x)


def identity(x):
    """float64 rounding: `x` itself."""
    return x


def rounder(dtype):
    """:func:`round32` for float32, :func:`identity` for float64."""
    return round32 if dtype.itemsize == 4 else identity


def div(a, b):
    """a / b with IEEE results for a zero divisor."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)


def sqrt(a):
    """sqrt(a), NaN for a < 0."""
    if a >= 0:
        return math.sqrt(a)
    return _NAN


def pow_(a, n):
    """a ** n for an integer n >= 0 (overflow gives +-inf)."""
    try:
        return a ** n
    except OverflowError:
        return -_INF if (a < 0 and n % 2) else _INF
