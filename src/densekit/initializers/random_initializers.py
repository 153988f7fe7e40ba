"""Random initializers on densekit's counter-based (Philox4x32-10) samplers.

Every value is element ``i`` (C order) of a stream that depends only on the
seed, the distribution, the precision (float32 streams feed float32, float16
and bfloat16 outputs; float64 has its own) and ``i``. Hence identical bytes for
any thread count, and ``init.block(shape, index) == init(shape)[index]``.

How each initializer maps to a stream (``fill(kind, seed, a, b)``):

==========================  ================================================
RandomUniform(lo, hi)       UNIFORM, a=lo, b=hi: ``lo + (hi - lo) * u``
RandomNormal(m, s)          NORMAL, a=m, b=s: ``m + s * z``
TruncatedNormal(m, s)       TRUNCATED_NORMAL, a=m, b=s (``|z| <= 2``, rejection)
VarianceScaling uniform     UNIFORM, a=-limit, b=limit
VarianceScaling trunc.      TRUNCATED_NORMAL, a=0, b=sqrt(s)/0.8796...
VarianceScaling untrunc.    NORMAL, a=0, b=sqrt(s)
Orthogonal                  NORMAL, a=0, b=1 for the (max, min) matrix, then QR
==========================  ================================================

So, for instance, ``GlorotUniform(seed=s)`` and ``RandomUniform(-limit, limit,
seed=s)`` give the same values.
"""

import math
import random as _py_random

import numpy as np
import scipy.linalg

from densekit._lib import _dense, _random
from densekit._threads import scipy_blas_one_thread, threads_for
from densekit._validation import check_float, check_int
from densekit.initializers._layout import check_axes, compute_fans
from densekit.initializers.initializer import _KernelInitializer, fill_stream, plain_number

__all__ = [
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "Orthogonal",
    "RandomInitializer",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
]

# Standard deviation of a standard normal truncated to [-2, 2] (Keras' constant).
TRUNCATED_STD = 0.87962566103423978

_MAX_SEED = 2**64


def _resolve_seed(seed):
    """The int seed used by the samplers: `seed` itself, or one drawn now if None."""
    if seed is None:
        # As Keras: drawn once, so one instance repeats itself and two differ.
        return _py_random.randint(1, int(1e9))
    # Python ints only (not bools, not numpy integers), as Keras checks it.
    seed = check_int(seed, "seed", index=False, message=lambda: (
        "`seed` argument should be an integer in [0, 2**64) or None "
        f"(keras.random.SeedGenerator is not supported). Received: seed={seed!r}"))
    if not 0 <= seed < _MAX_SEED:
        raise ValueError(
            "`seed` argument should be an integer in [0, 2**64) or None. "
            f"Received: seed={seed!r}"
        )
    return int(seed)


# A double rounds to an infinite float32 from 2**128 - 2**103 on (halfway
# between FLT_MAX and 2**128). Below 2**127 the float32 width b - a is finite
# whatever the rounding of a and b to float32; above, it is computed exactly.
_F32_LIMIT = 2.0**128 - 2.0**103
_F32_SAFE_WIDTH = 2.0**127


def _width_is_finite(a, b, out):
    """Whether the kernel's ``b - a``, in the stream's precision, is finite."""
    if out.dtype.itemsize == 8:
        return math.isfinite(b - a)
    with np.errstate(over="ignore"):
        return bool(np.isfinite(np.float32(b) - np.float32(a)))


def _fill_wide_uniform(out, plan, seed, a, b, n_threads):
    """U[a, b) when ``b - a`` overflows the stream's precision (the kernel's
    ``a + (b - a) * u`` would give b, or NaN, everywhere).

    The same u in [0, 1) as every uniform stream of this seed, then
    ``(a + w * u) + w * u`` with the finite half-width ``w = b/2 - a/2`` (every
    partial sum lies in [a, b]), clipped below b as the kernel clips. float32
    streams compute in float64 and round once to float32.
    """
    wide = out.dtype.itemsize == 8
    work = np.float64 if wide else np.float32
    u = np.empty(out.shape, dtype=work)
    fill_stream(u, plan, _random.UNIFORM, seed, 0.0, 1.0, n_threads)
    if not wide:
        a, b = float(np.float32(a)), float(np.float32(b))
        u = u.astype(np.float64)
    w = b / 2.0 - a / 2.0
    u *= w
    v = (a + u) + u
    v = v.astype(work)
    np.minimum(v, np.nextafter(work(b), work(-np.inf)), out=v)
    with np.errstate(over="ignore"):  # float16 outputs: beyond 65504 is inf, as the kernel
        np.copyto(out, v, casting="unsafe")


class RandomInitializer(_KernelInitializer):
    """Base class of the seeded initializers.

    Parameters
    ----------
    seed : int or None, default=None
        An int in ``[0, 2**64)`` gives the same values on every call and in
        every process. None draws a seed once, at construction (Python's
        `random`), so one instance repeats itself and two instances differ, as
        in Keras. ``get_config()`` keeps the seed as given (None stays None).
        Numpy integers are refused (ValueError), as in Keras, and so are
        bools (Keras takes ``seed=True`` as seed 1).
    """

    def __init__(self, seed=None):
        self._init_seed = seed
        self.seed = _resolve_seed(seed)

    def get_config(self):
        return {"seed": self._init_seed}

    def _stream(self, shape):  # pragma: no cover - abstract
        """Return ``(kind, a, b)``: the sampler stream of a tensor of the full `shape`."""
        raise NotImplementedError

    def _write(self, out, plan, shape, n_threads):
        # Subclasses whose output is one sampler stream define only _stream;
        # the others (Orthogonal) override _write.
        kind, a, b = self._stream(shape)
        if out.dtype.itemsize == 8:
            limit = safe_width = math.inf
        else:
            limit, safe_width = _F32_LIMIT, _F32_SAFE_WIDTH
        if not (-limit < a < limit and -limit < b < limit):
            raise self._beyond_range(a, b, out.dtype)
        if kind == _random.UNIFORM and not b - a < safe_width and not _width_is_finite(a, b, out):
            _fill_wide_uniform(out, plan, self.seed, a, b, n_threads)
            return
        fill_stream(out, plan, kind, self.seed, a, b, n_threads)

    def _beyond_range(self, a, b, dtype):
        precision = "float64" if dtype.itemsize == 8 else "float32"
        via = "" if dtype.itemsize >= 4 else f" ({dtype} values are float32 values rounded)"
        return ValueError(
            f"{self!r} cannot draw {dtype} values: its sampler parameters a={a!r}, "
            f"b={b!r} are beyond the {precision} range{via}. Use smaller arguments"
            f"{' or dtype=float64' if precision == 'float32' else ''}."
        )


class RandomNormal(RandomInitializer):
    """Initializer drawing from a normal distribution N(mean, stddev**2).

    Parameters
    ----------
    mean : float, default=0.0
        Mean of the values.
    stddev : float, default=0.05
        Standard deviation of the values (>= 0).
    seed : int or None, default=None
        See :class:`RandomInitializer`: an int repeats, None draws one seed at
        construction.

    Notes
    -----
    Stream: ``NORMAL`` with ``a=mean, b=stddev``. Values do not depend on the
    thread count; ``block`` gives the matching part of the whole.

    Examples
    --------
    >>> from densekit.initializers import RandomNormal
    >>> init = RandomNormal(mean=0.0, stddev=1.0, seed=0)
    >>> init((2, 2)).shape
    (2, 2)
    >>> bool((init((2, 2)) == init((2, 2))).all())
    True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self._mean = check_float(mean, "mean")
        self._stddev = check_float(stddev, "stddev", minimum=0.0)
        self.mean = plain_number(mean)
        self.stddev = plain_number(stddev)
        super().__init__(seed=seed)

    def _stream(self, shape):
        return _random.NORMAL, self._mean, self._stddev

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Initializer drawing from a normal distribution truncated at 2 stddev.

    Values are N(mean, stddev**2) conditioned on
    ``|x - mean| <= 2 * stddev``: every value outside is redrawn (rejection,
    never clipping, never giving up), so the sample standard deviation is
    ``0.8796 * stddev``.

    Parameters
    ----------
    mean : float, default=0.0
        Mean of the values.
    stddev : float, default=0.05
        Standard deviation of the normal before truncation (>= 0).
    seed : int or None, default=None
        See :class:`RandomInitializer`.

    Notes
    -----
    Stream: ``TRUNCATED_NORMAL`` with ``a=mean, b=stddev``.

    Examples
    --------
    >>> from densekit.initializers import TruncatedNormal
    >>> x = TruncatedNormal(stddev=1.0, seed=0)((1000,))
    >>> bool(abs(x).max() <= 2.0)
    True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self._mean = check_float(mean, "mean")
        self._stddev = check_float(stddev, "stddev", minimum=0.0)
        self.mean = plain_number(mean)
        self.stddev = plain_number(stddev)
        super().__init__(seed=seed)

    def _stream(self, shape):
        return _random.TRUNCATED_NORMAL, self._mean, self._stddev

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    """Initializer drawing from a uniform distribution on [minval, maxval).

    Parameters
    ----------
    minval : float, default=-0.05
        Lower bound (inclusive).
    maxval : float, default=0.05
        Upper bound (exclusive in float32 and float64; float16 and bfloat16
        values are float32 values rounded, so they may round onto `maxval`).
        ``minval == maxval`` gives that constant.
    seed : int or None, default=None
        See :class:`RandomInitializer`.

    Notes
    -----
    Stream: ``UNIFORM`` with ``a=minval, b=maxval``.

    Examples
    --------
    >>> from densekit.initializers import RandomUniform
    >>> x = RandomUniform(0.0, 1.0, seed=1)((3, 4))
    >>> bool(((0.0 <= x) & (x < 1.0)).all())
    True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self._minval = check_float(minval, "minval")
        self._maxval = check_float(maxval, "maxval")
        if self._maxval < self._minval:
            raise ValueError(
                "Argument `maxval` must be >= `minval`. "
                f"Received: minval={minval!r}, maxval={maxval!r}"
            )
        self.minval = plain_number(minval)
        self.maxval = plain_number(maxval)
        super().__init__(seed=seed)

    def _stream(self, shape):
        return _random.UNIFORM, self._minval, self._maxval

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def _given_axes(axes, checked):
    """The checked axes (plain ints) in the caller's form: None, int, list or tuple."""
    if checked is None or isinstance(axes, tuple):
        return checked
    return list(checked) if isinstance(axes, list) else checked[0]


def _copy_axes(axes):
    return list(axes) if isinstance(axes, list) else axes


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


def _set_repr(names):
    return "{" + ", ".join(repr(n) for n in names) + "}"


class VarianceScaling(RandomInitializer):
    """Initializer whose scale adapts to the shape of the tensor.

    With ``s = scale / max(1, n)``, where `n` is the fan-in, the fan-out or
    their mean (`mode`):

    - ``"truncated_normal"`` (alias ``"normal"``): a normal truncated at two
      standard deviations with ``stddev = sqrt(s) / 0.87962566103423978``, so
      the values' standard deviation is ``sqrt(s)``;
    - ``"untruncated_normal"``: N(0, s);
    - ``"uniform"``: U[-sqrt(3 s), sqrt(3 s)).

    Fans: rank 0 gives (1, 1); rank 1 ``(n,)`` gives (n, n); rank 2 ``(a, b)``
    gives (a, b); rank >= 3 multiplies both by ``prod(shape[:-2])``. For
    :meth:`block`, the fans come from the whole shape.

    Parameters
    ----------
    scale : float, default=1.0
        Positive scaling factor.
    mode : {"fan_in", "fan_out", "fan_avg"}, default="fan_in"
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}, \
default="truncated_normal"
        Case-insensitive; ``"normal"`` means ``"truncated_normal"``.
    seed : int or None, default=None
        See :class:`RandomInitializer`.
    input_axes, output_axes : int or list of int, optional
        The axes whose sizes make the fans (for einsum-shaped kernels); see
        :func:`compute_fans`. None (the default) is the rule above.

    Raises
    ------
    ValueError
        If `scale` is not positive, `mode` or `distribution` is unknown, or
        the axes are not ints (at construction) or do not fit the shape (at
        call time).

    Examples
    --------
    >>> from densekit.initializers import VarianceScaling
    >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=0)
    >>> bool(abs(init((100, 10))).max() <= (3 * 2.0 / 100) ** 0.5)
    True
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        check_float(scale, "scale", minimum=0.0, exclusive=True, message=lambda: (
            f"Argument `scale` must be positive float. Received: scale={scale}"))
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(
                f"Invalid `mode` argument: {mode}. Please use one of {_set_repr(_MODES)}"
            )
        name = distribution.lower() if isinstance(distribution, str) else distribution
        if name == "normal":
            name = "truncated_normal"
        if name not in _DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {name}. "
                f"Please use one of {_set_repr(_DISTRIBUTIONS)}"
            )
        self._setup(plain_number(scale), mode, name, seed, input_axes, output_axes)

    def _setup(self, scale, mode, distribution, seed, input_axes, output_axes):
        """Store checked scale, mode and distribution; check and store the rest."""
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self._last_stream = None  # (shape, (kind, a, b)) of the last call
        if input_axes is None and output_axes is None:
            self.input_axes = self.output_axes = None
        else:
            # Kept in the form given (a list stays a list, as in Keras' config).
            self.input_axes = _given_axes(input_axes, check_axes(input_axes, "input_axes"))
            self.output_axes = _given_axes(output_axes, check_axes(output_axes, "output_axes"))
        RandomInitializer.__init__(self, seed=seed)

    def _variance(self, shape):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            n = fan_in
        elif self.mode == "fan_out":
            n = fan_out
        else:
            n = (fan_in + fan_out) / 2.0
        return float(self.scale) / max(1.0, n)

    def _stream(self, shape):
        # The same shape is initialized again and again (one per layer): keep the last.
        last = self._last_stream
        if last is not None and last[0] == shape:
            return last[1]
        s = self._variance(shape)
        if self.distribution == "truncated_normal":
            stream = _random.TRUNCATED_NORMAL, 0.0, math.sqrt(s) / TRUNCATED_STD
        elif self.distribution == "untruncated_normal":
            stream = _random.NORMAL, 0.0, math.sqrt(s)
        else:
            # sqrt(3 s), without overflowing 3 s for a huge scale.
            limit = math.sqrt(3.0 * s) if s < 1e307 else math.sqrt(3.0) * math.sqrt(s)
            stream = _random.UNIFORM, -limit, limit
        self._last_stream = (shape, stream)
        return stream

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
            **self._axes_config(),
        }

    def _axes_config(self):
        # Keras 3.15 always writes both keys (None by default).
        return {
            "input_axes": _copy_axes(self.input_axes),
            "output_axes": _copy_axes(self.output_axes),
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed (scale, mode, distribution): only a seed."""

    _args = None

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        # _args are valid by construction: only the other arguments are checked.
        self._setup(*self._args, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self._init_seed, **self._axes_config()}


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with std ``sqrt(2 / (fan_in + fan_out))``.

    ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="truncated_normal")``.

    Parameters
    ----------
    seed : int or None, default=None
        See :class:`RandomInitializer`.
    input_axes, output_axes : int or list of int, optional
        See :class:`VarianceScaling`.

    Examples
    --------
    >>> from densekit.initializers import GlorotNormal
    >>> GlorotNormal(seed=0)((64, 32)).dtype
    dtype('float32')
    """

    _args = (1.0, "fan_avg", "truncated_normal")


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: U[-limit, limit), ``limit = sqrt(6 / (fan_in + fan_out))``.

    ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform")``.

    Parameters
    ----------
    seed : int or None, default=None
        See :class:`RandomInitializer`.
    input_axes, output_axes : int or list of int, optional
        See :class:`VarianceScaling`.

    Examples
    --------
    >>> from densekit.initializers import GlorotUniform
    >>> bool(abs(GlorotUniform(seed=0)((64, 32))).max() < (6 / 96) ** 0.5)
    True
    """

    _args = (1.0, "fan_avg", "uniform")


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal with std ``sqrt(2 / fan_in)``.

    ``VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal")``.

    Parameters
    ----------
    seed : int or None, default=None
        See :class:`RandomInitializer`.
    input_axes, output_axes : int or list of int, optional
        See :class:`VarianceScaling`.

    Examples
    --------
    >>> from densekit.initializers import HeNormal
    >>> HeNormal(seed=0)((3, 3, 16, 32)).shape
    (3, 3, 16, 32)
    """

    _args = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """He uniform: U[-limit, limit), ``limit = sqrt(6 / fan_in)``.

    ``VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")``.

    Parameters
    ----------
    seed : int or None, default=None
        See :class:`RandomInitializer`.
    input_axes, output_axes : int or list of int, optional
        See :class:`VarianceScaling`.

    Examples
    --------
    >>> from densekit.initializers import HeUniform
    >>> bool(abs(HeUniform(seed=0)((24, 8))).max() < 0.5)
    True
    """

    _args = (2.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal with std ``sqrt(1 / fan_in)``.

    ``VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")``.

    Parameters
    ----------
    seed : int or None, default=None
        See :class:`RandomInitializer`.
    input_axes, output_axes : int or list of int, optional
        See :class:`VarianceScaling`.

    Examples
    --------
    >>> from densekit.initializers import LecunNormal
    >>> LecunNormal(seed=0)(5).shape
    (5,)
    """

    _args = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: U[-limit, limit), ``limit = sqrt(3 / fan_in)``.

    ``VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform")``.

    Parameters
    ----------
    seed : int or None, default=None
        See :class:`RandomInitializer`.
    input_axes, output_axes : int or list of int, optional
        See :class:`VarianceScaling`.

    Examples
    --------
    >>> from densekit.initializers import LecunUniform
    >>> bool(abs(LecunUniform(seed=0)((12, 4))).max() < 0.5)
    True
    """

    _args = (1.0, "fan_in", "uniform")


# Rough cost of one normal draw in flops, for threads_for.
_NORMAL_FLOPS = 8


class Orthogonal(RandomInitializer):
    """Initializer producing an orthogonal matrix (times `gain`).

    With ``rows = prod(shape[:-1])`` and ``cols = shape[-1]``, a standard
    normal ``(max(rows, cols), min(rows, cols))`` matrix is drawn from the
    ``NORMAL`` stream (float64 for float64 outputs, float32 otherwise), factored
    by QR (LAPACK through scipy), its columns' signs fixed by ``sign(diag(r))``,
    transposed when ``rows < cols``, reshaped to `shape` and multiplied by
    `gain`. So for 2-D shapes ``W.T @ W == gain**2 * I`` when ``rows >= cols``,
    and ``W @ W.T == gain**2 * I`` otherwise.

    Parameters
    ----------
    gain : float, default=1.0
        Multiplicative factor.
    seed : int or None, default=None
        See :class:`RandomInitializer`.

    Raises
    ------
    ValueError
        When called with a shape of rank < 2.

    Notes
    -----
    QR needs the whole matrix, so :meth:`block` computes the whole matrix and
    returns the block: it is exact but its cost is that of the whole. The QR
    is a blocked Householder QR through scipy's LAPACK (``?geqrt`` with block
    size 128 and a recursive panel, then Q formed in place by one ``?larfb``
    per block): nearly all of its flops are large GEMMs, split into fixed
    column tasks that densekit's threads share, each calling scipy's OpenBLAS
    on one thread (OpenBLAS itself rounds differently on one thread and on
    several). So the result depends only on the seed and the LAPACK build,
    never on `n_threads`, the core count or ``OPENBLAS_NUM_THREADS``.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.initializers import Orthogonal
    >>> w = Orthogonal(gain=2.0, seed=0)((6, 4), dtype="float64")
    >>> bool(np.allclose(w.T @ w, 4.0 * np.eye(4)))
    True
    """

    def __init__(self, gain=1.0, seed=None):
        self._gain = check_float(gain, "gain")
        self.gain = plain_number(gain)
        super().__init__(seed=seed)

    def _check_call_shape(self, shape):
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )

    def _factor(self, rows, cols, dtype, n_threads):
        """(qt, scale): Q^T in C order, shape (min, max), of the QR of the
        (max(rows, cols), min(rows, cols)) normal draw, and the per-column
        factor gain * sign(diag(R)) (a zero pivot keeps its column)."""
        work = np.float64 if dtype == np.float64 else np.float32
        m, n = max(rows, cols), min(rows, cols)
        a = np.empty((m, n), dtype=work)
        # Threads by work size: a thread team left spinning after the draw would
        # take a core from the BLAS threads of the QR that follows.
        fill_stream(a, None, _random.NORMAL, self.seed, 0.0, 1.0,
                    threads_for(_NORMAL_FLOPS * m * n, n_threads))
        if 0 < n and m < 2**31:
            # Blocked Householder QR of `a` in Fortran order (its transpose in C
            # order), Q formed in place: see _dense.orthonormalize_columns.
            qt = np.empty((n, m), dtype=work)
            _dense.transpose_scale(a, qt, None, threads_for(4 * m * n, n_threads))
            del a
            diag = np.empty(n, dtype=work)
            # Our threads share fixed column tasks, each calling BLAS on one thread
            # (if scipy's OpenBLAS cannot be held to one, one task at a time).
            threads = threads_for(4 * m * n * n, n_threads) if scipy_blas_one_thread.found else 1
            with scipy_blas_one_thread:
                info = _dense.orthonormalize_columns(qt, diag, threads)
            if info != 0:  # pragma: no cover - LAPACK argument errors only
                raise RuntimeError(f"LAPACK QR failed (info={info})")
        else:
            q, r = scipy.linalg.qr(a, mode="economic", overwrite_a=True, check_finite=False)
            qt, diag = q.T, np.diagonal(r)
        return qt, np.where(diag < 0, -self._gain, self._gain).astype(work)

    def _write(self, out, plan, shape, n_threads):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        qt, scale = self._factor(rows, cols, out.dtype, n_threads)
        # The matrix is Q^T (rows < cols) or Q, its columns times `scale`: written
        # straight into `out` when it can take it, else into a buffer first.
        direct = plan is None and out.dtype == qt.dtype and out.flags.c_contiguous
        q = out.reshape(rows, cols) if direct else np.empty((rows, cols), qt.dtype)
        if rows < cols:
            np.multiply(qt, scale[:, None], out=q)
        elif qt.flags.c_contiguous:
            _dense.transpose_scale(qt, q, scale, threads_for(4 * rows * cols, n_threads))
        else:  # scipy's Q of the fallback: qt is its transposed view
            np.multiply(qt.T, scale, out=q)
        if direct:
            return
        matrix = q.reshape(shape)
        if plan is not None:
            matrix = matrix[plan.key]
        np.copyto(out, matrix, casting="unsafe")

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}
