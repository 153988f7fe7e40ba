"""Initializers with fixed values: Zeros, Ones, Constant, Identity."""

import copy
import math
import numbers

import numpy as np

from densekit._validation import check_float
from densekit.initializers.initializer import _KernelInitializer, fill_constant, plain_number

__all__ = ["STFT", "Constant", "Identity", "Ones", "Zeros"]


def _not_finite(value, dtype):
    return ValueError(f"Cannot fill an integer array ({dtype}) with the value {value!r}.")


def _does_not_fit(value, dtype):
    return ValueError(f"The value {value!r} does not fit in the integer dtype {dtype}.")


def _cast_scalar(value, dtype):
    """`value` as a numpy scalar of `dtype` (16-bit floats via float32, as the samplers).

    Integer and boolean dtypes take the value truncated toward zero; NaN,
    infinities and values outside the dtype's range are a ValueError.
    """
    if dtype.kind in "biu":
        if isinstance(value, numbers.Integral):  # exact, however large
            whole = int(value)
        elif not np.isfinite(value):
            raise _not_finite(value, dtype)
        else:
            whole = int(value)
        if dtype.kind != "b":
            info = np.iinfo(dtype)
            if not info.min <= whole <= info.max:
                raise _does_not_fit(value, dtype)
        return np.asarray(value if dtype.kind == "b" else whole).astype(dtype)
    with np.errstate(over="ignore"):
        if dtype.itemsize == 2:
            return np.asarray(np.float32(value)).astype(dtype)
        return np.asarray(value, dtype=np.float64).astype(dtype)


def _check_fits(arr, dtype):
    """The rule of :func:`_cast_scalar` for every value of the array `arr`."""
    floating = arr.dtype.kind == "f"
    if floating:
        bad = ~np.isfinite(arr)
        if bad.any():
            raise _not_finite(arr[bad][0].item(), dtype)
    if dtype.kind == "b":
        return
    info = np.iinfo(dtype)
    if floating:
        # Truncated toward zero, as the cast does; info.max + 1 and info.min are
        # powers of two, exact in floating point (info.max itself may not be).
        whole = np.trunc(arr)
        bad = (whole < float(info.min)) | (whole >= float(info.max + 1))
    else:
        bad = (arr < info.min) | (arr > info.max)
    if bad.any():
        raise _does_not_fit(arr[bad][0].item(), dtype)


# Below this many elements numpy's serial fill is about as fast as the kernel
# (measured here, 2**18 float32: 0.035 ms numpy, 0.022 ms on 2 free cores) and
# cannot be delayed by a thread team waiting for a busy core (milliseconds on
# this shared machine). Above it, the kernel's parallel first touch of fresh
# pages pays (PERF_NOTES: 0.20 vs 0.41 ns per value).
_PARALLEL_MIN = 1 << 20


def _fill_scalar(out, value, n_threads):
    if out.dtype.kind in "biu" or out.size < _PARALLEL_MIN:
        out.fill(_cast_scalar(value, out.dtype))
    else:
        with np.errstate(over="ignore"):
            fill_constant(out, value, n_threads)


class _ConstantBase(_KernelInitializer):
    # Zeros, Ones and Constant accept integer and boolean dtypes, as in Keras.
    _allow_integer = True

    def _value(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _write(self, out, plan, shape, n_threads):
        _fill_scalar(out, self._value(), n_threads)


class Zeros(_ConstantBase):
    """Initializer that fills tensors with 0.

    A new array comes from ``np.zeros`` (the OS supplies zeroed pages lazily,
    so it costs nothing up front); ``out=`` is filled in parallel. Integer and
    boolean dtypes are accepted too.

    Examples
    --------
    >>> from densekit.initializers import Zeros
    >>> Zeros()((2, 3)).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """

    # calloc: the pages are zero-filled lazily by the OS, so a new Zeros array
    # costs nothing up front (only `out=` needs an explicit fill).
    _fresh_is_filled = True

    def _new_output(self, shape, dtype):
        return np.zeros(shape, dtype=dtype)

    def _value(self):
        return 0.0


class Ones(_ConstantBase):
    """Initializer that fills tensors with 1.

    Examples
    --------
    >>> from densekit.initializers import Ones
    >>> Ones()(3, dtype="float64").tolist()
    [1.0, 1.0, 1.0]
    """

    def _value(self):
        return 1.0


class Constant(_ConstantBase):
    """Initializer that fills tensors with `value`.

    Parameters
    ----------
    value : float or array_like, default=0.0
        A real number, or an array of real numbers that broadcasts to the shape
        of every tensor it fills (checked at call time).

    Notes
    -----
    The value is converted to the output dtype (float16 and bfloat16 via float32,
    rounding to nearest even). Integer and boolean dtypes are accepted.

    Examples
    --------
    >>> from densekit.initializers import Constant
    >>> Constant(2.5)((2,)).tolist()
    [2.5, 2.5]
    >>> Constant([1.0, 2.0])((2, 2)).tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """

    def __init__(self, value=0.0):
        if isinstance(value, numbers.Real):
            self._array = None
        else:
            try:
                arr = np.asarray(value)
            except (TypeError, ValueError):
                arr = None
            if arr is None or arr.dtype.kind not in "biuf":
                raise ValueError(
                    "Argument `value` must be a real number or an array of real "
                    f"numbers. Received: value={value!r}"
                )
            if arr.ndim == 0:
                self._array = None
                value = arr.item()
            else:
                # A private, read-only copy: changing the caller's array later
                # must not change this initializer.
                self._array = np.array(arr, copy=True)
                self._array.flags.writeable = False
                value = self._array if isinstance(value, np.ndarray) else copy.deepcopy(value)
        self.value = plain_number(value)

    def _value(self):
        return self.value

    def _check_call_shape(self, shape):
        if self._array is not None:
            try:
                fits = np.broadcast_shapes(self._array.shape, shape) == shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(
                    f"The `value` of shape {self._array.shape} of Constant does not "
                    f"broadcast to shape={shape}."
                )

    def _write(self, out, plan, shape, n_threads):
        if self._array is None:
            _fill_scalar(out, self.value, n_threads)
            return
        src = self._array
        if out.dtype.kind in "biu":
            _check_fits(src, out.dtype)
        elif out.dtype.itemsize == 2:
            src = src.astype(np.float32)  # 16-bit values are float32 values rounded
        src = np.broadcast_to(src, shape)
        if plan is not None:
            src = src[plan.key]
        np.copyto(out, src, casting="unsafe")

    def get_config(self):
        value = self.value
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, (list, tuple)):
            value = copy.deepcopy(value)  # as given (Keras), but not shared
        return {"value": value}


class Identity(_KernelInitializer):
    """Initializer that generates ``gain * eye(rows, cols)`` for 2-D shapes.

    Non-square shapes are allowed (ones on the main diagonal). Blocks are
    computed directly, without the whole matrix.

    Parameters
    ----------
    gain : float, default=1.0
        Multiplicative factor applied to the identity matrix (a finite number).

    Raises
    ------
    ValueError
        When called with a shape whose rank is not 2.

    Examples
    --------
    >>> from densekit.initializers import Identity
    >>> Identity(gain=2.0)((2, 3)).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """

    _allow_integer = True

    def __init__(self, gain=1.0):
        check_float(gain, "gain")  # finite, as Orthogonal's
        self.gain = plain_number(gain)

    def _check_call_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )

    def _write(self, out, plan, shape, n_threads):
        _fill_scalar(out, 0.0, n_threads)
        if plan is None:
            r0 = c0 = 0
            n_r, n_c = shape
        else:
            (r0, c0), (n_r, n_c) = plan.starts, plan.lengths
        g0, g1 = max(r0, c0), min(r0 + n_r, c0 + n_c)
        if g1 <= g0:
            return
        # Global diagonal entries (g, g) for g0 <= g < g1 fall in this block.
        k = np.arange(g1 - g0)
        out.reshape(n_r, n_c)[g0 - r0 + k, g0 - c0 + k] = _cast_scalar(self.gain, out.dtype)

    def get_config(self):
        return {"gain": self.gain}


class _DirectTensor(Constant):
    """What ``initializers.get(array)`` returns: that array, for its own shape only."""

    def _check_call_shape(self, shape):
        expected = self._array.shape if self._array is not None else ()
        if tuple(shape) != expected:
            raise ValueError(
                f"Expected `shape` to be {expected} for direct tensor as initializer. "
                f"Received shape={tuple(shape)}"
            )


_SIDES = ("real", "imag")
_SCALINGS = (None, "density", "spectrum")


class STFT(_KernelInitializer):
    """Initializer of Conv1D kernels for the short-time Fourier transform (Keras 3's STFT).

    For a kernel of shape ``(frame_length, input_channels, fft_bins)`` with
    ``n = 2 * (fft_bins - 1)`` (the FFT length; only the first half of the
    bins is kept, the others being conjugates), every channel gets

    ``w[t, c, f] = cos(-2 pi t f / n) * win[t] / s`` (``side="real"``) or
    ``sin(-2 pi t f / n) * win[t] / s`` (``side="imag"``),

    where `win` is the window and ``s`` its L2 norm (``scaling="density"``), its
    L1 norm (``"spectrum"``) or 1 (``None``, or no window).

    Parameters
    ----------
    side : {"real", "imag"}, default="real"
        Which part of the complex transform the kernel computes.
    window : str, array_like or None, default="hann"
        A window name for ``scipy.signal.get_window`` ("hann", "hamming", ...),
        the window's values (length ``frame_length``), or None for none.
    scaling : {"density", "spectrum", None}, default="density"
        Normalization of the window (L2, L1, or none).
    periodic : bool, default=False
        Whether a named window is periodic (``fftbins=True`` in scipy) rather
        than symmetric.

    Notes
    -----
    Computed in float64 and rounded once to the output dtype (float32,
    float64, float16 or bfloat16). :meth:`block` computes the whole kernel
    (it is small) and returns the block.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.initializers import STFT
    >>> w = STFT(side="real", window=None, scaling=None)((4, 1, 3), "float64")
    >>> (w[:, 0, :].round(6) + 0.0).tolist()
    [[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -1.0, 1.0], [1.0, 0.0, -1.0]]
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if not isinstance(side, str) or side not in _SIDES:
            raise ValueError(f"side should be 'real' or 'imag', not {side}")
        if isinstance(window, str):
            import scipy.signal

            scipy.signal.get_window(window, 1)  # raises for an unknown window
            self._window = None
        elif window is None:
            self._window = None
        else:
            try:
                win = np.array(window, dtype=np.float64)
            except (TypeError, ValueError):
                win = None
            if win is None or win.ndim != 1 or not np.isfinite(win).all():
                raise ValueError(
                    "Argument `window` must be a window name, a 1-D array of finite "
                    f"values or None. Received: window={window!r}"
                )
            self._window = win
            window = copy.deepcopy(window) if not isinstance(window, np.ndarray) else win
        if not (scaling is None or (isinstance(scaling, str) and scaling in _SCALINGS)):
            raise ValueError(
                "Scaling is invalid, it must be `None`, 'density' "
                f"or 'spectrum'. Received scaling={scaling}"
            )
        if not isinstance(periodic, (bool, np.bool_)):
            raise ValueError(
                f"Argument `periodic` must be a bool. Received: periodic={periodic!r}"
            )
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = bool(periodic)

    def _check_call_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(
                "STFT initializer needs a shape (frame_length, input_channels, "
                f"fft_bins). Received: shape={shape} of rank {len(shape)}."
            )
        frame_length, _, bins = shape
        if bins < 2:
            raise ValueError(
                "STFT initializer needs at least 2 frequency bins (the FFT length is "
                f"2 * (fft_bins - 1)). Received: shape={shape}"
            )
        if self._window is not None and self._window.shape != (frame_length,):
            raise ValueError(
                "The shape of `window` must be equal to [frame_length]."
                f"Received: window shape={self._window.shape}"
            )

    def _kernel(self, shape):
        frame_length, channels, bins = shape
        n = 2 * (bins - 1)
        t = np.arange(frame_length, dtype=np.float64)[:, None]
        f = np.arange(bins, dtype=np.float64)[None, :]
        # (t * f) mod n keeps the angle small, so long frames stay accurate.
        args = -2.0 * np.pi * (np.mod(t * f, n) / n)
        kernel = np.cos(args) if self.side == "real" else np.sin(args)
        win = self._window
        if win is None and isinstance(self.window, str):
            import scipy.signal

            win = scipy.signal.get_window(self.window, frame_length, fftbins=self.periodic)
        if win is not None:
            scale = 1.0
            if self.scaling == "density":
                scale = math.sqrt(float(np.sum(np.square(win))))
            elif self.scaling == "spectrum":
                scale = float(np.sum(np.abs(win)))
            kernel = kernel * (win[:, None] / scale)
        return np.broadcast_to(kernel[:, None, :], (frame_length, channels, bins))

    def _write(self, out, plan, shape, n_threads):
        kernel = self._kernel(shape)
        if plan is not None:
            kernel = kernel[plan.key]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if out.dtype.itemsize == 2:
                kernel = kernel.astype(np.float32)  # 16-bit values are float32 values rounded
            np.copyto(out, kernel, casting="unsafe")

    def get_config(self):
        window = self.window
        if isinstance(window, np.ndarray):
            window = window.tolist()
        elif isinstance(window, (list, tuple)):
            window = copy.deepcopy(window)
        return {
            "side": self.side,
            "window": window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }
