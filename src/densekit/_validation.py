"""Argument checks shared by the public modules: every kernel input passes through here."""

import math
import numbers
import operator

import numpy as np

__all__ = [
    "FLOAT_DTYPES",
    "as_float_array",
    "check_float_dtype",
    "check_number",
    "check_out",
    "check_shape",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Most elements a shape may describe. The samplers (src/densekit/_lib/src/sampling*.c and
# _random.pyx) index the flat stream with signed 64-bit integers and, for an element
# range [i0, i0 + n) inside a tensor of N elements, form values up to N plus a small
# constant: `(i0 + step - 1) / step * step` (step <= 64), `(blk << 2) + 4`,
# `s0 + DK_TRUNC_SUB` (4096), `row_len + DK_CHUNK - 1` (16384) and
# `start + r * row_stride + c0` (<= N). With N <= 2**62 every such sum stays below
# 2**62 + 2**62 = 2**63, so none can overflow int64_t; 2**63 - 1 itself would not be safe.
MAX_ELEMENTS = 2**62


def check_float_dtype(dtype, name="dtype", default=np.float32, allowed=FLOAT_DTYPES):
    """Return `dtype` as an np.dtype from `allowed` (None gives `default`), else TypeError."""
    if dtype is None:
        return np.dtype(default)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Argument `{name}` must be a floating dtype. Received: {name}={dtype!r}"
        ) from None
    if resolved not in allowed:
        names = ", ".join(str(d) for d in allowed)
        raise TypeError(
            f"Argument `{name}` must be one of {names}. Received: {name}={dtype!r}"
        )
    return resolved


def check_shape(shape, name="shape"):
    """Return `shape` (an int, or a sequence of ints) as a tuple of non-negative ints.

    Non-integer entries raise TypeError; negative ones raise ValueError, and so
    does a shape of more than ``MAX_ELEMENTS`` (2**62) elements, or a single
    dimension larger than that: the kernels' 64-bit index arithmetic is only
    overflow-free below that bound.
    """
    if isinstance(shape, (list, tuple)):
        dims = shape
    elif isinstance(shape, np.ndarray) and shape.ndim == 1:
        dims = shape.tolist()
    else:
        dims = (shape,)
    out = []
    for dim in dims:
        if isinstance(dim, bool) or isinstance(dim, (float, np.floating)):
            raise TypeError(
                f"Argument `{name}` must hold integers. "
                f"'{type(dim).__name__}' object cannot be interpreted as an integer. "
                f"Received: {name}={shape!r}"
            )
        try:
            dim = operator.index(dim)
        except TypeError:
            raise TypeError(
                f"Argument `{name}` must hold integers. "
                f"'{type(dim).__name__}' object cannot be interpreted as an integer. "
                f"Received: {name}={shape!r}"
            ) from None
        if dim < 0:
            raise ValueError(
                f"Argument `{name}` must not have negative dimensions. "
                f"Received: {name}={shape!r}"
            )
        out.append(int(dim))
    n = 1
    for dim in out:
        n *= dim
    if n > MAX_ELEMENTS or any(dim > MAX_ELEMENTS for dim in out):
        raise ValueError(
            f"Argument `{name}` describes {n} elements, more than the limit of "
            f"2**62 = {MAX_ELEMENTS} elements (or a dimension above it): the kernels' "
            f"64-bit index arithmetic must stay below 2**63 without overflow. "
            f"Received: {name}={shape!r}"
        )
    return tuple(out)


def check_number(value, name, *, minimum=None, exclusive=False, allow_none=False):
    """Return `value` as a float, checking it is a real, finite number (>= or > `minimum`)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"Argument `{name}` must be a finite number. Received: {name}={value!r}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(
            f"Argument `{name}` must be a finite number. Received: {name}={value!r}"
        )
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        bound = f"> {minimum}" if exclusive else f">= {minimum}"
        raise ValueError(
            f"Argument `{name}` must be {bound}. Received: {name}={value!r}"
        )
    return value


def as_float_array(x, name="x"):
    """Coerce an array-like to a C-contiguous float32/float64 ndarray.

    float32 and float64 keep their precision, whatever their byte order
    (big-endian input is byte-swapped to native, never downcast); booleans and
    integers become float32; float16 becomes float32; anything else (complex,
    object, strings) is a TypeError. The input is never modified; a copy is
    made only when needed.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if arr.dtype in FLOAT_DTYPES:
        pass
    elif kind == "f" and arr.dtype.newbyteorder("=") in FLOAT_DTYPES:
        # '>f8' != float64 as a dtype: without this it fell through to float32.
        arr = arr.astype(arr.dtype.newbyteorder("="))
    elif kind in "biuf":
        arr = arr.astype(np.float32)
    else:
        raise TypeError(
            f"Argument `{name}` must hold real numbers. Received dtype {arr.dtype}."
        )
    # order='C' rather than np.ascontiguousarray, which turns 0-d input into 1-d.
    return np.asarray(arr, order="C")


def check_out(out, shape, dtype, name="out"):
    """Check a caller's output array: an ndarray of exactly `shape` and `dtype`,
    writable and C-contiguous. Raises TypeError (type, dtype) or ValueError (shape,
    read-only, layout) and never touches the array."""
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"Argument `{name}` must be a numpy.ndarray. Received: type {type(out).__name__}"
        )
    if isinstance(out, np.matrix):
        # A matrix stays 2-D under every reshape, so the kernels' flat views fail.
        raise TypeError(
            f"Argument `{name}` must be a numpy.ndarray, not a numpy.matrix (which is "
            f"always 2-D); pass np.asarray(matrix). Received: type {type(out).__name__}"
        )
    if out.dtype != dtype:
        raise TypeError(
            f"Argument `{name}` must have dtype {np.dtype(dtype)}. Received dtype {out.dtype}."
        )
    if out.shape != tuple(shape):
        raise ValueError(
            f"Argument `{name}` must have shape {tuple(shape)}. Received shape {out.shape}."
        )
    if not out.flags.writeable:
        raise ValueError(f"Argument `{name}` must be writable; it is read-only.")
    if not out.flags.c_contiguous:
        raise ValueError(f"Argument `{name}` must be C-contiguous.")
    return out
