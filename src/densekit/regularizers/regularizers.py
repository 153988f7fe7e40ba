"""Weight regularizers with Keras 3 semantics on parallel Cython reductions.

``reg(x)`` returns the penalty as a Python float. Sums run over fixed blocks of
the flattened input in parallel, accumulate in float64 and add the block sums
in order with a compensated sum: the value is identical for every
``n_threads`` and agrees with ``math.fsum`` to about 1e-13 relative.
``reg.gradient(x)`` (a densekit extra) returns the penalty's gradient.
"""

import math

import numpy as np

from densekit._arrays import as_float, io_pair
from densekit._lib import _constraints as _ck
from densekit._lib import _regularizers as _k
from densekit._threads import effective_n_threads
from densekit._validation import check_float

__all__ = ["L1", "L1L2", "L2", "OrthogonalRegularizer", "Regularizer"]


def validate_float_arg(value, name):
    """A finite, non-negative real number as a Python float (Keras' wording on error)."""
    return check_float(value, name, minimum=0, message=lambda: (
        f"Invalid value for argument {name}: expected a non-negative float."
        f"Received: {name}={value}"))


def _refuse_keras_variable(reg, x):
    """Keras calls a layer's regularizers on its variables and adds the result to the
    loss, as a backend tensor it can differentiate; a Python float is neither."""
    if type(x).__module__.split(".")[0] == "keras":
        raise TypeError(
            f"{reg!r} is a densekit regularizer: a numpy kernel for densekit models that "
            "returns a Python float, which a Keras model cannot add to its loss. "
            f"Received: x of type {type(x).__module__}.{type(x).__name__}. In a Keras "
            f"model use keras.regularizers.{type(reg).__name__} (same config)."
        )


def _flat(x):
    """A float array and a 1-D view of it (a copy only for non-contiguous input)."""
    arr = as_float(x, "x")
    return arr, arr.ravel(order="K")


class Regularizer:
    """Base class for weight regularizers.

    ``reg(x)`` returns a Python float penalty; ``reg.gradient(x)`` its gradient
    with respect to `x`. The base class is the zero penalty.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.regularizers import Regularizer
    >>> class Sum(Regularizer):
    ...     def __call__(self, x, n_threads=None):
    ...         return float(np.sum(x))
    >>> Sum()(np.ones(3))
    3.0
    """

    def __call__(self, x, n_threads=None):
        """The zero penalty."""
        _refuse_keras_variable(self, x)
        as_float(x, "x")
        return 0.0

    def gradient(self, x, out=None, n_threads=None):
        """Gradient of the zero penalty: zeros shaped like `x`."""
        arr = as_float(x, "x")
        _, y, result, _ = io_pair(arr, out)
        y[...] = 0
        return result

    def get_config(self):
        """The constructor arguments, as a dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Rebuild a regularizer from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _L1L2Base(Regularizer):
    """Shared value/gradient for L1, L2 and L1L2 (l1 * sum|x| + l2 * sum x**2)."""

    # Which terms the class has. Keras' L1 and L2 keep ``0 * sum`` when their
    # factor is 0 (NaN for infinite input); L1L2 drops terms whose factor is 0.
    _has_l1 = True
    _has_l2 = True
    _drop_zero_terms = False

    def _terms(self):
        l1 = getattr(self, "l1", 0.0)
        l2 = getattr(self, "l2", 0.0)
        if self._drop_zero_terms:
            return l1, l2, bool(l1), bool(l2)
        return l1, l2, self._has_l1, self._has_l2

    def __call__(self, x, n_threads=None):
        """The penalty as a Python float.

        Parameters
        ----------
        x : array_like
            Weights of any shape; float32/float64 used as they are, integers
            become float32.
        n_threads : int, optional
            Threads for the reduction (None: :func:`densekit.get_num_threads`).
        """
        _refuse_keras_variable(self, x)
        l1, l2, use_l1, use_l2 = self._terms()
        _, flat = _flat(x)
        n_threads = effective_n_threads(n_threads)
        which = (_k.SUM_ABS if use_l1 else 0) | (_k.SUM_SQ if use_l2 else 0)
        if not which:
            return 0.0
        s1, s2 = _k.sums(flat, which, n_threads)
        value = 0.0
        if use_l1:
            value += l1 * s1
        if use_l2:
            value += l2 * s2
        return value

    def gradient(self, x, out=None, n_threads=None):
        """``l1 * sign(x) + 2 * l2 * x`` (the terms this regularizer has), in `x`'s dtype.

        ``sign(0) = 0`` (the subgradient of ``|x|`` at 0 closest to zero). One
        parallel pass, computed in float64 and rounded once. ``out`` (same
        shape and dtype, writable, C- or F-contiguous) receives the result;
        ``out=x`` works in place.
        """
        l1, l2, use_l1, use_l2 = self._terms()
        arr = as_float(x, "x")
        xc, y, result, _ = io_pair(arr, out)
        n_threads = effective_n_threads(n_threads)
        if xc.size:
            _k.l1l2_gradient(
                xc.reshape(-1), y.reshape(-1), l1, l2, use_l1, use_l2, n_threads
            )
        return result


class L1(_L1L2Base):
    """L1 penalty: ``l1 * sum(|x|)``.

    Parameters
    ----------
    l1 : float, default=0.01
        Non-negative finite factor; None means the default.

    Notes
    -----
    Keras stores the factor as float32 in its config (0.3 reads back as
    0.30000001192092896); densekit keeps the Python float. The sum runs in
    float64 on any number of threads with identical results.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.regularizers import L1
    >>> L1(0.5)(np.array([[1.0, -2.0], [3.0, -4.0]], dtype=np.float32))
    5.0
    """

    _has_l2 = False

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, name="l1")

    def get_config(self):
        return {"l1": self.l1}


class L2(_L1L2Base):
    """L2 penalty: ``l2 * sum(x**2)``.

    Parameters
    ----------
    l2 : float, default=0.01
        Non-negative finite factor; None means the default.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.regularizers import L2
    >>> L2(0.5)(np.array([1.0, -2.0, 3.0]))
    7.0
    """

    _has_l1 = False

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def get_config(self):
        return {"l2": self.l2}


class L1L2(_L1L2Base):
    """L1 plus L2 penalty: ``l1 * sum(|x|) + l2 * sum(x**2)``.

    Parameters
    ----------
    l1, l2 : float, default=0.0
        Non-negative finite factors; None means 0.0. A zero factor drops its
        term (as Keras does), so ``L1L2()`` is the zero penalty.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.regularizers import L1L2
    >>> L1L2(l1=1.0, l2=0.5)(np.array([1.0, -2.0]))
    5.5
    """

    _drop_zero_terms = True

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalize non-orthogonal rows (or columns) of a rank-2 weight matrix.

    mode "rows": each row of `x` is scaled to unit L2 norm (zero rows are left
    alone), ``P = X X^T`` and ``size = n_rows``; mode "columns" is the same on
    ``X^T`` (columns normalized, ``P = X^T X``, ``size = n_cols``). The penalty is
    ``factor * 0.5 * sum(|P - diag(P)|) / (size * (size - 1) / 2)``: the mean
    absolute cosine over distinct pairs, times ``factor``; it is NaN when
    ``size < 2`` (no pairs), as in Keras.

    Parameters
    ----------
    factor : float, default=0.01
        Non-negative finite factor.
    mode : {"rows", "columns"}, default="rows"

    Notes
    -----
    Everything runs in float64: norms with densekit's kernel, the Gram matrix
    with one BLAS call (numpy's ``matmul``, on BLAS's own threads; `n_threads`
    applies to the densekit kernels), the off-diagonal sum with numpy's pairwise
    summation. Differences from Keras 3.15: columns mode follows the definition
    above (Keras' numpy backend normalizes the wrong axis); the factor stays a
    Python float in the config (Keras stores float32).

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.regularizers import OrthogonalRegularizer
    >>> round(OrthogonalRegularizer(factor=1.0)(np.array([[1.0, 0.0], [1.0, 1.0]])), 6)
    0.707107
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = validate_float_arg(factor, name="factor")
        if mode not in {"rows", "columns"}:
            raise ValueError(
                "Invalid value for argument `mode`. Expected one of "
                f'{{"rows", "columns"}}. Received: mode={mode}'
            )
        self.mode = mode

    def _normalized(self, x, n_threads):
        """(Y, norms): float64 rows of X (or of X^T) scaled to unit norm."""
        arr = as_float(x, "x")
        if arr.ndim != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. "
                f"Received: inputs.shape={arr.shape}"
            )
        n_threads = effective_n_threads(n_threads)
        m = arr.T if self.mode == "columns" else arr
        y = np.array(m, dtype=np.float64, order="C")
        sq = _ck.sq_norms_rows(y, n_threads)[:, 0] if y.size else np.zeros(y.shape[0])
        norms = np.sqrt(sq)
        nz = norms > 0
        y[nz] /= norms[nz, None]
        return arr, y, norms, nz

    def __call__(self, x, n_threads=None):
        """The penalty as a Python float (see the class docstring)."""
        _refuse_keras_variable(self, x)
        _, y, _, _ = self._normalized(x, n_threads)
        size = y.shape[0]
        if size < 2:
            return math.nan
        p = y @ y.T
        np.fill_diagonal(p, 0.0)
        total = float(np.abs(p, out=p).sum())
        return self.factor * 0.5 * total / (size * (size - 1) / 2)

    def gradient(self, x, out=None, n_threads=None):
        """Exact gradient of the penalty with respect to `x`, in `x`'s dtype.

        With ``c = factor * 0.5 / num_pairs`` and ``S = c * sign(P)`` (zero
        diagonal), the gradient with respect to the normalized rows is
        ``G = 2 S Y``; through the normalization ``y_i = x_i / r_i`` it is
        ``(g_i - (g_i . y_i) y_i) / r_i``. Zero rows, where the penalty is not
        differentiable, get 0, and so do pairs with ``P_ij = 0`` (``sign(0) = 0``).
        Columns mode is the transpose of rows mode on ``X^T``. NaN when
        ``size < 2``.
        """
        arr, y, norms, nz = self._normalized(x, n_threads)
        _, dst, result, transposed = io_pair(arr, out)
        size = y.shape[0]
        if size < 2:
            g = np.full(y.shape, np.nan)
        else:
            c = self.factor * 0.5 / (size * (size - 1) / 2)
            s = np.sign(y @ y.T)
            np.fill_diagonal(s, 0.0)
            g = (2.0 * c) * (s @ y)
            g -= np.einsum("ij,ij->i", g, y)[:, None] * y
            g[nz] /= norms[nz, None]
            g[~nz] = 0.0
        # g is laid out like X (rows mode) or X^T (columns mode); dst like arr
        # (or arr.T when transposed).
        if (self.mode == "columns") != transposed:
            g = g.T
        np.copyto(dst, g, casting="same_kind")
        return result

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}
