"""Argument checks shared by the public modules: every kernel input passes through here."""

import math
import numbers
import operator
import os

import numpy as np

__all__ = [
    "FLOAT_DTYPES",
    "as_float_array",
    "check_float",
    "check_float_dtype",
    "check_int",
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
        if type(dim) is not int:
            dim = check_int(dim, name, error=TypeError, message=lambda dim=dim: (
                f"Argument `{name}` must hold integers. "
                f"'{type(dim).__name__}' object cannot be interpreted as an integer. "
                f"Received: {name}={shape!r}"))
        if dim < 0:
            raise ValueError(
                f"Argument `{name}` must not have negative dimensions. "
                f"Received: {name}={shape!r}"
            )
        out.append(dim)
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


def _raise(error, message, default):
    if callable(message):
        message = message()
    raise error(default if message is None else message)


def check_int(value, name, *, minimum=None, allow_none=False, index=True,
              error=ValueError, message=None):
    """Return `value` as a Python int: an integer that is not a bool, >= `minimum`.

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        Its name, for the message.
    minimum : int, optional
        The smallest accepted value.
    allow_none : bool, default=False
        Whether None passes (and is returned).
    index : bool, default=True
        Whether any object with ``__index__`` (numpy integers) counts; False
        accepts only Python ints.
    error : type, default=ValueError
        The exception raised.
    message : str or callable, optional
        The whole message (or a function returning it, called only on
        failure), for arguments whose Keras wording differs; by
        default "Argument `name` must be an integer[ >= minimum]. Received:
        name=value".
    """
    if value is None and allow_none:
        return None
    if type(value) is int and (minimum is None or value >= minimum):
        return value  # the common case
    result = None
    if not isinstance(value, (bool, np.bool_)):
        if isinstance(value, int):
            result = int(value)
        elif index:
            try:
                result = operator.index(value)
            except TypeError:
                pass
    if result is None or (minimum is not None and result < minimum):
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        _raise(error, message, f"Argument `{name}` must be {what}. Received: {name}={value!r}")
    return result


def check_float(value, name, *, minimum=None, exclusive=False, allow_none=False,
                message=None):
    """Return `value` as a Python float: a real, finite number that is not a bool,
    >= `minimum` (> it when `exclusive`). Otherwise a ValueError, in Keras'
    words "Argument `name` must be ... Received: name=value" or, when given,
    `message` (the whole text or a function returning it, for arguments
    whose Keras wording differs).
    """
    if value is None and allow_none:
        return None
    if type(value) is float or type(value) is int:  # the common case, without the ABC check
        pass
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        _raise(ValueError, message,
               f"Argument `{name}` must be a finite number. Received: {name}={value!r}")
    try:
        result = float(value)
    except OverflowError:  # an int beyond the float range
        result = math.inf
    if not math.isfinite(result):
        _raise(ValueError, message,
               f"Argument `{name}` must be a finite number. Received: {name}={value!r}")
    if minimum is not None and (result <= minimum if exclusive else result < minimum):
        bound = f"> {minimum}" if exclusive else f">= {minimum}"
        _raise(ValueError, message,
               f"Argument `{name}` must be {bound}. Received: {name}={value!r}")
    return result


# The former name of check_float, still used by activations/ (kept for it).
check_number = check_float


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


def check_path(path, name):
    """`path` as a str (an os.PathLike is converted), else TypeError naming the argument."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(
            f"Argument `{name}` must be a string or an os.PathLike. "
            f"Received: {name}={path!r}"
        )
    return path
