"""Input/output array preparation shared by the constraints and regularizers (private)."""

import numpy as np

from densekit._validation import FLOAT_DTYPES, as_float_array, check_out

__all__ = ["as_float", "io_pair"]


def as_float(x, name):
    """`x` as an ndarray of float32/float64 without copying when it already is one.

    Integers, booleans and float16 become float32 (as everywhere in densekit);
    complex, object and string arrays raise TypeError.
    """
    try:
        arr = np.asarray(x)
    except TypeError as exc:
        # A traced array (jax.jit, e.g. a compiled Keras train step) has no values.
        kind = type(x)
        raise TypeError(
            "densekit's constraints and regularizers are numpy kernels for densekit "
            f"models: argument `{name}` must be convertible to a numpy array, and a "
            "traced array (inside jax.jit, as in a compiled Keras train step) is not. "
            f"Received: {name} of type {kind.__module__}.{kind.__qualname__} "
            f"(np.asarray raised {type(exc).__name__}). In a Keras model use "
            "keras.constraints and keras.regularizers (same names and configs)."
        ) from None
    if arr.dtype in FLOAT_DTYPES:
        return arr
    return as_float_array(arr, name)


def _same_buffer(a, b):
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
    )


def io_pair(arr, out, name="out"):
    """Pick a C-contiguous compute layout for input `arr` and its result.

    Returns ``(x, y, result, transposed)``: `x` and `y` are C-contiguous arrays
    of one shape (``arr.shape``, or reversed when ``transposed``), `y` is where
    the kernel writes, and `result` is what the caller returns. An F-contiguous
    input is handled as its C-contiguous transpose (no copy); any other layout is
    copied to C order first. `out` is validated fully before anything is written:
    it must be an ndarray of `arr`'s shape and dtype, writable, and C-contiguous
    (or F-contiguous, which pairs with the transposed layout). When `out`
    partially overlaps `arr` the input is copied first, so that results never
    depend on the write order; ``out=arr`` itself works in place without a copy.
    """
    shape, dtype = arr.shape, arr.dtype
    if out is None:
        if arr.flags.c_contiguous:
            result = np.empty(shape, dtype=dtype)
            return arr, result, result, False
        if arr.flags.f_contiguous:
            result = np.empty(shape, dtype=dtype, order="F")
            return arr.T, result.T, result, True
        x = np.ascontiguousarray(arr)
        result = np.empty(shape, dtype=dtype)
        return x, result, result, False
    transposed = (
        isinstance(out, np.ndarray)
        and out.ndim > 1
        and not out.flags.c_contiguous
        and out.flags.f_contiguous
    )
    if transposed:
        if out.dtype == dtype and out.shape == shape:
            check_out(out.T, shape[::-1], dtype, name)
        else:  # the caller's view of the mismatch, not the transpose's
            check_out(out, shape, dtype, name)
        y = out.T
        x = arr.T
    else:
        check_out(out, shape, dtype, name)
        y = out
        x = arr
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    elif np.may_share_memory(x, y) and not _same_buffer(x, y):
        x = x.copy()
    return x, y, out, transposed
