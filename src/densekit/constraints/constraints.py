"""Weight constraints with Keras 3 semantics on parallel Cython kernels.

A norm constraint makes two passes over the weights: one parallel pass computes
the norms (sums of squares accumulated in float64, also for float32 input), and
one fused parallel pass rescales every element by its norm's factor, rounding
once to the input dtype. The work partition depends only on the shape, so the
result is bit-identical for every ``n_threads``.
"""

import numpy as np

from densekit._arrays import as_float, io_pair
from densekit._lib import _constraints as _k
from densekit._threads import effective_n_threads
from densekit._validation import check_float, check_int

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"]

EPSILON = 1e-7  # Keras' backend.epsilon()


class Constraint:
    """Base class for weight constraints.

    A constraint is a callable ``constraint(w)`` returning the projected weights.
    Subclasses implement ``__call__`` and ``get_config``.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.constraints import Constraint
    >>> class Clip(Constraint):
    ...     def __call__(self, w, out=None, n_threads=None):
    ...         return np.clip(w, -1, 1, out=out)
    >>> Clip()(np.array([-3.0, 0.5, 2.0]))
    array([-1. ,  0.5,  1. ])
    """

    def __call__(self, w, out=None, n_threads=None):
        """Return `w` unchanged (copied into `out` when given)."""
        if out is None:
            return w
        arr = as_float(w, "w")
        x, y, result, _ = io_pair(arr, out)
        np.copyto(y, x)
        return result

    def get_config(self):
        """The constructor arguments, as a dict (empty for the base class)."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Rebuild a constraint from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_axis(axis):
    """``(given, axes)`` for an int or a non-empty tuple/list of ints: `given` in
    the caller's form (int, list or tuple of plain ints, as Keras' config keeps
    it) and `axes` the int or tuple the kernels use."""
    if isinstance(axis, (tuple, list)):
        items = list(axis)
        if not items:
            raise ValueError(
                f"Argument `axis` must be an int or a non-empty tuple of ints. Received: axis={axis!r}"
            )
    else:
        items = [axis]
    message = f"Argument `axis` must be an int or a tuple of ints. Received: axis={axis!r}"
    checked = [check_int(item, "axis", message=message) for item in items]
    if isinstance(axis, list):
        return checked, tuple(checked)
    if isinstance(axis, tuple):
        return tuple(checked), tuple(checked)
    return checked[0], checked[0]


def _config_axis(axis):
    # A list is copied, so that changing a config never changes the constraint.
    return list(axis) if isinstance(axis, list) else axis


def _resolve_axes(axis, ndim):
    """Sorted non-negative axes for an array of rank `ndim`; ValueError when out of range."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    resolved = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"Argument `axis` is out of bounds for an array of rank {ndim}. "
                f"Received: axis={axis!r}"
            )
        resolved.append(a % ndim)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"Argument `axis` has repeated axes. Received: axis={axis!r}")
    return sorted(resolved)


def _norm_scale(w, axis, kind, a, b, rate, out, n_threads):
    """out := w * factor(norms(w, axis)) with Keras' formulas; see the module docstring."""
    arr = as_float(w, "w")
    axes = _resolve_axes(axis, arr.ndim)
    x, y, result, transposed = io_pair(arr, out)
    n_threads = effective_n_threads(n_threads)
    if x.size == 0:
        return result
    if transposed:
        axes = sorted(x.ndim - 1 - ax for ax in axes)
    reduced = set(axes)
    # Axes of length 1 change nothing in memory: leave them out of the layout analysis.
    dims = [(n, ax in reduced) for ax, n in enumerate(x.shape) if n != 1]
    flags = [r for _, r in dims]
    idx = [i for i, r in enumerate(flags) if r]
    if not idx:
        # Every reduced axis has length 1: each element is its own norm.
        outer, red, inner = 1, 1, x.size
    elif idx == list(range(idx[0], idx[-1] + 1)):
        sizes = [n for n, _ in dims]
        outer = int(np.prod(sizes[: idx[0]], dtype=np.int64))
        red = int(np.prod(sizes[idx[0] : idx[-1] + 1], dtype=np.int64))
        inner = int(np.prod(sizes[idx[-1] + 1 :], dtype=np.int64))
    else:
        _scattered_axes(x, y, axes, kind, a, b, rate, n_threads)
        return result
    if inner == 1:
        x2 = x.reshape(outer, red)
        f = _k.sq_norms_rows(x2, n_threads)
        _k.factors(f, kind, a, b, rate)
        _k.rescale_rows(x2, f[:, 0], y.reshape(outer, red), n_threads)
    else:
        x3 = x.reshape(outer, red, inner)
        f = _k.sq_norms(x3, n_threads)
        _k.factors(f, kind, a, b, rate)
        _k.rescale(x3, f, y.reshape(outer, red, inner), n_threads)
    return result


def _scattered_axes(x, y, axes, kind, a, b, rate, n_threads):
    """Reduced axes that are not adjacent in memory, e.g. axis=(0, 2) of a rank-3 array.

    The norms come from a transposed C copy (kept axes first, reduced axes last:
    the one case with a temporary as large as `x`); the rescale broadcasts the
    float64 factors in place without another full-size temporary.
    """
    kept = [ax for ax in range(x.ndim) if ax not in axes]
    xt = np.ascontiguousarray(x.transpose(kept + list(axes)))
    outer = int(np.prod([x.shape[ax] for ax in kept], dtype=np.int64))
    f = _k.sq_norms_rows(xt.reshape(outer, -1), n_threads)
    del xt
    _k.factors(f, kind, a, b, rate)
    fshape = [1 if ax in axes else n for ax, n in enumerate(x.shape)]
    # float32 * float64 runs in float64 and rounds once on output: as the kernels do.
    np.multiply(x, f.reshape(fshape), out=y, casting="same_kind")


class MaxNorm(Constraint):
    """Constrain the norm of the weights along `axis` to at most `max_value`.

    ``w * clip(norms, 0, max_value) / (epsilon + norms)`` with
    ``norms = sqrt(sum(w**2, axis, keepdims=True))`` and ``epsilon = 1e-7``
    (as Keras, so even short vectors are scaled by ``norm / (norm + 1e-7)``).

    Parameters
    ----------
    max_value : float, default=2
        Largest norm allowed; a finite number >= 0.
    axis : int or tuple of int, default=0
        Axes the norms run over. For a Dense kernel of shape (input_dim, units)
        ``axis=0`` constrains each unit's incoming weight vector; for a convolution
        kernel (rows, cols, in, out) use ``axis=(0, 1, 2)``. Negative axes count
        from the end.

    Notes
    -----
    ``constraint(w, out=None, n_threads=None)`` returns a new array of `w`'s dtype
    (float32 stays float32, float64 stays float64; integers become float32);
    ``out=w`` rescales in place, allocating only float64 scratch of at most 64
    times the norms' size (2 MiB for a 16384 x 4096 kernel), never one the size
    of `w` (except for non-adjacent reduced axes, below). Sums of
    squares are accumulated in float64 and the result is rounded once. A
    C- or F-contiguous input is used as is; any other layout is copied to C order
    first. Reduced axes that are not adjacent in memory (``axis=(0, 2)`` of a
    rank-3 array) need one transposed copy. Results do not depend on `n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.constraints import MaxNorm
    >>> w = np.array([[3.0, 0.6], [4.0, 0.8]], dtype=np.float32)
    >>> MaxNorm(max_value=2)(w).round(4)
    array([[1.2, 0.6],
           [1.6, 0.8]], dtype=float32)
    """

    def __init__(self, max_value=2, axis=0):
        check_float(max_value, "max_value", minimum=0)
        self.max_value = max_value
        self.axis, self._axes = _check_axis(axis)

    def __call__(self, w, out=None, n_threads=None):
        """Apply the constraint to `w`; see the class docstring."""
        return _norm_scale(
            w, self._axes, _k.MAX_NORM, float(self.max_value), 0.0, 1.0, out, n_threads
        )

    def get_config(self):
        return {"max_value": self.max_value, "axis": _config_axis(self.axis)}


class MinMaxNorm(Constraint):
    """Constrain the norm of the weights along `axis` to ``[min_value, max_value]``.

    ``w * (rate * clip(norms, min_value, max_value) + (1 - rate) * norms) /
    (epsilon + norms)`` with ``epsilon = 1e-7``.

    Parameters
    ----------
    min_value : float, default=0.0
        Smallest norm allowed; finite and >= 0.
    max_value : float, default=1.0
        Largest norm allowed; finite and >= `min_value`.
    rate : float, default=1.0
        Rate of enforcement in ``[0, 1]``: 1.0 rescales fully at once, smaller
        values move the norm part of the way.
    axis : int or tuple of int, default=0
        Axes the norms run over (see :class:`MaxNorm`).

    Notes
    -----
    Call semantics (dtype, ``out=``, threads, layouts) as :class:`MaxNorm`.
    Keras does not check ``min_value <= max_value`` or the range of `rate`;
    densekit raises ValueError for those.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.constraints import MinMaxNorm
    >>> w = np.array([[0.3, 3.0], [0.4, 4.0]])
    >>> MinMaxNorm(min_value=1.0, max_value=2.0)(w).round(6)
    array([[0.6, 1.2],
           [0.8, 1.6]])
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        lo = check_float(min_value, "min_value", minimum=0)
        hi = check_float(max_value, "max_value", minimum=0)
        if hi < lo:
            raise ValueError(
                "Argument `max_value` must be >= `min_value`. "
                f"Received: min_value={min_value!r}, max_value={max_value!r}"
            )
        r = check_float(rate, "rate", minimum=0)
        if r > 1:
            raise ValueError(f"Argument `rate` must be <= 1. Received: rate={rate!r}")
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis, self._axes = _check_axis(axis)

    def __call__(self, w, out=None, n_threads=None):
        """Apply the constraint to `w`; see the class docstring."""
        return _norm_scale(
            w,
            self._axes,
            _k.MIN_MAX_NORM,
            float(self.min_value),
            float(self.max_value),
            float(self.rate),
            out,
            n_threads,
        )

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": _config_axis(self.axis),
        }


class NonNeg(Constraint):
    """Constrain the weights to be non-negative: ``maximum(w, 0)``.

    NaN stays NaN and ``-inf`` becomes 0 (``numpy.maximum`` semantics; Keras'
    ``w * (w >= 0)`` would give NaN for ``-inf``).

    Notes
    -----
    ``constraint(w, out=None, n_threads=None)``: one parallel elementwise pass;
    dtype, ``out=`` and layout rules as :class:`MaxNorm`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.constraints import NonNeg
    >>> NonNeg()(np.array([-1.0, 0.0, 2.5]))
    array([0. , 0. , 2.5])
    """

    def __call__(self, w, out=None, n_threads=None):
        """Apply the constraint to `w`; see the class docstring."""
        arr = as_float(w, "w")
        x, y, result, _ = io_pair(arr, out)
        n_threads = effective_n_threads(n_threads)
        if x.size:
            _k.nonneg(x.reshape(-1), y.reshape(-1), n_threads)
        return result


class UnitNorm(Constraint):
    """Constrain the weights along `axis` to unit norm: ``w / (epsilon + norms)``.

    Parameters
    ----------
    axis : int or tuple of int, default=0
        Axes the norms run over (see :class:`MaxNorm`).

    Notes
    -----
    Zero vectors stay zero. Call semantics as :class:`MaxNorm`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.constraints import UnitNorm
    >>> UnitNorm(axis=-1)(np.array([[3.0, 4.0], [0.0, 0.0]])).round(6)
    array([[0.6, 0.8],
           [0. , 0. ]])
    """

    def __init__(self, axis=0):
        self.axis, self._axes = _check_axis(axis)

    def __call__(self, w, out=None, n_threads=None):
        """Apply the constraint to `w`; see the class docstring."""
        return _norm_scale(w, self._axes, _k.UNIT_NORM, 0.0, 0.0, 1.0, out, n_threads)

    def get_config(self):
        return {"axis": _config_axis(self.axis)}
