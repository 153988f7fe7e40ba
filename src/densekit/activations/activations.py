"""Keras 3 activation functions on densekit's parallel kernels.

Every function takes any array-like of any shape. float32 and float64 keep
their dtype; booleans, integers and float16 become float32. Two keyword-only
densekit extras are accepted everywhere: ``out`` (a C-contiguous, writable
ndarray of the result's shape and dtype; ``out=x`` works in place) and
``n_threads`` (None: the densekit default, see
:func:`densekit.get_num_threads`). Results do not depend on ``n_threads``.

Numerics: for float32 input, transcendental functions are evaluated in double
precision and rounded once (sigmoid, silu, tanh and softmax in float arithmetic
within 4 ulp), with formulas that neither overflow nor cancel. Finite input never produces inf or NaN (except
:func:`exponential`, whose true value overflows), +-inf give the mathematical
limits, and NaN propagates (also through :func:`threshold`,
:func:`hard_shrink` and :func:`soft_shrink`, where Keras' numpy backend maps
NaN to a constant).
"""

import functools
import math
import operator

import numpy as np

from densekit._lib import _activations as _k
from densekit._threads import effective_n_threads
from densekit._validation import as_float_array, check_number, check_out

__all__ = [
    "celu",
    "elu",
    "exponential",
    "fused_code",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
]

# Codes of densekit/_lib/_activation_ops.pxd (the enum there is the source of truth;
# tests/test_activations.py checks that both agree).
ACT_LINEAR = 0
ACT_RELU = 1
ACT_RELU6 = 2
ACT_LEAKY_RELU = 3
ACT_ELU = 4
ACT_SELU = 5
ACT_CELU = 6
ACT_GELU = 7
ACT_GELU_TANH = 8
ACT_SILU = 9
ACT_SIGMOID = 10
ACT_TANH = 11
ACT_SOFTPLUS = 12
ACT_SOFTSIGN = 13
ACT_HARD_SIGMOID = 14
ACT_HARD_SILU = 15
ACT_EXPONENTIAL = 16
ACT_MISH = 17
ACT_LOG_SIGMOID = 18
ACT_HARD_TANH = 19
ACT_TANH_SHRINK = 20
ACT_HARD_SHRINK = 21
ACT_SOFT_SHRINK = 22
ACT_SPARSE_PLUS = 23
ACT_SPARSE_SIGMOID = 24
ACT_SQUAREPLUS = 25
ACT_THRESHOLD = 26
ACT_SOFTMAX = 27
ACT_LOG_SOFTMAX = 28


# ------------------------------------------------------------------ helpers

def _prepare(x, out, shape=None):
    """Return (x as a C-contiguous float array, checked or new `out`)."""
    arr = as_float_array(x)
    shape = arr.shape if shape is None else shape
    if out is None:
        return arr, np.empty(shape, dtype=arr.dtype)
    check_out(out, shape, arr.dtype)
    if np.may_share_memory(out, arr) and not (
        out.shape == arr.shape
        and out.__array_interface__["data"][0] == arr.__array_interface__["data"][0]
    ):
        # Partial overlap would let the kernel read values it already wrote.
        arr = arr.copy()
    return arr, out


def _elementwise(code, x, out, n_threads, p0=0.0, p1=0.0, p2=0.0):
    n = effective_n_threads(n_threads)
    arr, out = _prepare(x, out)
    _k.elementwise(code, arr.reshape(-1), out.reshape(-1), p0, p1, p2, n)
    return out


def _check_axis(axis, ndim):
    if isinstance(axis, bool):
        raise TypeError(f"Argument `axis` must be an integer. Received: axis={axis!r}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(
            f"Argument `axis` must be an integer. Received: axis={axis!r}"
        ) from None
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"Argument `axis` is out of range for an input of rank {ndim}. "
            f"Received: axis={axis}"
        )
    return axis % ndim


def _split_shape(shape, axis):
    outer = math.prod(shape[:axis])
    inner = math.prod(shape[axis + 1:])
    return outer, shape[axis], inner


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"Argument `{name}` must be a bool. Received: {name}={value!r}"
        )
    return bool(value)


_DOC_EXTRAS = """out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`)."""


# --------------------------------------------------------- the relu family

def relu(x, negative_slope=0.0, max_value=None, threshold=0.0, *, out=None,
         n_threads=None):
    """Rectified linear unit, with Keras' optional slope, cap and threshold.

    ``y = x if x > threshold else 0``, then clipped to ``[0, max_value]`` when
    `max_value` is given, then ``y -= negative_slope * max(threshold - x, 0)``.
    With only `negative_slope` set this is ``max(x, negative_slope * x)``
    (Keras' leaky-relu shortcut).

    Parameters
    ----------
    x : array_like
        Input of any shape.
    negative_slope : float, default 0.0
        Slope below the threshold.
    max_value : float or None, default None
        Saturation value (the largest output).
    threshold : float, default 0.0
        Values at or below it are damped to 0 (or to the slope).
    {extras}

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.

    Examples
    --------
    >>> from densekit import activations
    >>> activations.relu([-10.0, -5.0, 0.0, 5.0, 10.0]).tolist()
    [0.0, 0.0, 0.0, 5.0, 10.0]
    >>> activations.relu([-10.0, -5.0, 0.0, 5.0, 10.0], negative_slope=0.5).tolist()
    [-5.0, -2.5, 0.0, 5.0, 10.0]
    >>> activations.relu([-10.0, -5.0, 0.0, 5.0, 10.0], max_value=5.0).tolist()
    [0.0, 0.0, 0.0, 5.0, 5.0]
    """
    code = _relu_params(negative_slope, max_value, threshold)
    return _elementwise(code[0], x, out, n_threads, *code[1:])


relu.__doc__ = relu.__doc__.format(extras=_DOC_EXTRAS)


def _relu_params(negative_slope=0.0, max_value=None, threshold=0.0):
    slope = check_number(negative_slope, "negative_slope")
    cap = check_number(max_value, "max_value", allow_none=True)
    thr = check_number(threshold, "threshold")
    return (ACT_RELU, slope, math.nan if cap is None else cap, thr)


def _simple_doc(fn, formula, params=""):
    fn.__doc__ = f"""{formula}

    Parameters
    ----------
    x : array_like
        Input of any shape.
    {params}{_DOC_EXTRAS}

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """
    return fn


def relu6(x, *, out=None, n_threads=None):
    return _elementwise(ACT_RELU6, x, out, n_threads)


def leaky_relu(x, negative_slope=0.2, *, out=None, n_threads=None):
    return _elementwise(
        ACT_LEAKY_RELU, x, out, n_threads, check_number(negative_slope, "negative_slope")
    )


def elu(x, alpha=1.0, *, out=None, n_threads=None):
    return _elementwise(ACT_ELU, x, out, n_threads, check_number(alpha, "alpha"))


def selu(x, *, out=None, n_threads=None):
    return _elementwise(ACT_SELU, x, out, n_threads)


def _celu_alpha(alpha):
    alpha = check_number(alpha, "alpha")
    if alpha == 0.0:
        raise ValueError(f"Argument `alpha` must be non-zero. Received: alpha={alpha!r}")
    return alpha


def celu(x, alpha=1.0, *, out=None, n_threads=None):
    return _elementwise(ACT_CELU, x, out, n_threads, _celu_alpha(alpha))


def gelu(x, approximate=False, *, out=None, n_threads=None):
    code = ACT_GELU_TANH if _check_bool(approximate, "approximate") else ACT_GELU
    return _elementwise(code, x, out, n_threads)


def silu(x, *, out=None, n_threads=None):
    return _elementwise(ACT_SILU, x, out, n_threads)


def sigmoid(x, *, out=None, n_threads=None):
    return _elementwise(ACT_SIGMOID, x, out, n_threads)


def log_sigmoid(x, *, out=None, n_threads=None):
    return _elementwise(ACT_LOG_SIGMOID, x, out, n_threads)


def hard_sigmoid(x, *, out=None, n_threads=None):
    return _elementwise(ACT_HARD_SIGMOID, x, out, n_threads)


def hard_silu(x, *, out=None, n_threads=None):
    return _elementwise(ACT_HARD_SILU, x, out, n_threads)


def tanh(x, *, out=None, n_threads=None):
    return _elementwise(ACT_TANH, x, out, n_threads)


def hard_tanh(x, *, out=None, n_threads=None):
    return _elementwise(ACT_HARD_TANH, x, out, n_threads)


def tanh_shrink(x, *, out=None, n_threads=None):
    return _elementwise(ACT_TANH_SHRINK, x, out, n_threads)


def hard_shrink(x, threshold=0.5, *, out=None, n_threads=None):
    return _elementwise(
        ACT_HARD_SHRINK, x, out, n_threads, check_number(threshold, "threshold")
    )


def soft_shrink(x, threshold=0.5, *, out=None, n_threads=None):
    return _elementwise(
        ACT_SOFT_SHRINK, x, out, n_threads, check_number(threshold, "threshold")
    )


def softplus(x, *, out=None, n_threads=None):
    return _elementwise(ACT_SOFTPLUS, x, out, n_threads)


def softsign(x, *, out=None, n_threads=None):
    return _elementwise(ACT_SOFTSIGN, x, out, n_threads)


def sparse_plus(x, *, out=None, n_threads=None):
    return _elementwise(ACT_SPARSE_PLUS, x, out, n_threads)


def sparse_sigmoid(x, *, out=None, n_threads=None):
    return _elementwise(ACT_SPARSE_SIGMOID, x, out, n_threads)


def squareplus(x, b=4, *, out=None, n_threads=None):
    return _elementwise(ACT_SQUAREPLUS, x, out, n_threads, check_number(b, "b", minimum=0))


def mish(x, *, out=None, n_threads=None):
    return _elementwise(ACT_MISH, x, out, n_threads)


def exponential(x, *, out=None, n_threads=None):
    return _elementwise(ACT_EXPONENTIAL, x, out, n_threads)


def linear(x, *, out=None, n_threads=None):
    return _elementwise(ACT_LINEAR, x, out, n_threads)


def threshold(x, threshold, default_value, *, out=None, n_threads=None):
    return _elementwise(
        ACT_THRESHOLD,
        x,
        out,
        n_threads,
        check_number(threshold, "threshold"),
        check_number(default_value, "default_value"),
    )


_simple_doc(relu6, "ReLU capped at 6: ``min(max(x, 0), 6)``.")
_simple_doc(
    leaky_relu,
    "Leaky ReLU: ``max(x, negative_slope * x)``.",
    "negative_slope : float, default 0.2\n        Slope for negative inputs.\n    ",
)
_simple_doc(
    elu,
    "Exponential linear unit: ``x if x >= 0 else alpha * expm1(x)``.",
    "alpha : float, default 1.0\n        Scale of the negative part.\n    ",
)
_simple_doc(
    selu,
    "Scaled ELU: ``1.0507009873554805 * elu(x, 1.6732632423543772)``.",
)
_simple_doc(
    celu,
    "Continuously differentiable ELU: "
    "``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``.",
    "alpha : float, default 1.0\n        Non-zero scale of the negative part.\n    ",
)
_simple_doc(
    gelu,
    "Gaussian error linear unit: ``x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))``,\n"
    "    or with ``approximate=True`` ``0.5 * x * (1 + tanh(sqrt(2/pi) *"
    " (x + 0.044715 x^3)))``.\n\n"
    "    Evaluated as ``0.5 * x * erfc(-x / sqrt(2))`` and ``x * sigmoid(2u)``,\n"
    "    which equal the above without cancelling for negative x.",
    "approximate : bool, default False\n        Use the tanh approximation.\n    ",
)
_simple_doc(silu, "SiLU, also called swish: ``x * sigmoid(x)``.")
_simple_doc(sigmoid, "Logistic sigmoid: ``1 / (1 + exp(-x))``, computed without overflow.")
_simple_doc(log_sigmoid, "Log of the sigmoid: ``-softplus(-x)``.")
_simple_doc(hard_sigmoid, "Hard sigmoid: ``clip(x / 6 + 0.5, 0, 1)``.")
_simple_doc(hard_silu, "Hard SiLU, also called hard swish: ``x * hard_sigmoid(x)``.")
_simple_doc(tanh, "Hyperbolic tangent.")
_simple_doc(hard_tanh, "Hard tanh: ``clip(x, -1, 1)``.")
_simple_doc(
    tanh_shrink,
    "Tanh shrink: ``x - tanh(x)`` (a series near 0 keeps it accurate there).",
)
_simple_doc(
    hard_shrink,
    "Hard shrink: ``x if |x| > threshold else 0``.",
    "threshold : float, default 0.5\n        Half-width of the zeroed band.\n    ",
)
_simple_doc(
    soft_shrink,
    "Soft shrink: ``x - threshold`` above `threshold`, ``x + threshold`` below\n"
    "    ``-threshold``, else 0.",
    "threshold : float, default 0.5\n        Half-width of the zeroed band.\n    ",
)
_simple_doc(softplus, "Softplus: ``log(1 + exp(x))``, computed without overflow.")
_simple_doc(softsign, "Softsign: ``x / (1 + |x|)`` (+-1 at +-inf).")
_simple_doc(
    sparse_plus,
    "Sparse plus: 0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, x above.",
)
_simple_doc(
    sparse_sigmoid,
    "Sparse sigmoid: 0 for ``x <= -1``, ``(x + 1) / 2`` for ``-1 < x < 1``, 1 above.",
)
_simple_doc(
    squareplus,
    "Squareplus: ``(x + sqrt(x^2 + b)) / 2`` (computed without cancellation for x < 0).",
    "b : float, default 4\n        Non-negative smoothness parameter.\n    ",
)
_simple_doc(mish, "Mish: ``x * tanh(softplus(x))``.")
_simple_doc(exponential, "Exponential: ``exp(x)`` (overflows to inf as the true value does).")
_simple_doc(linear, "Linear (identity) activation: returns a copy of `x`, or writes `out`.")
_simple_doc(
    threshold,
    "Threshold: ``x if x > threshold else default_value`` (NaN stays NaN).",
    "threshold : float\n        Values at or below it are replaced.\n    "
    "default_value : float\n        The replacement.\n    ",
)

# Keras' aliases are the same function objects, so serialize() gives the canonical name.
swish = silu
hard_swish = hard_silu


# ---------------------------------------------------- reductions over an axis

def _softmax(log, x, axis, out, n_threads):
    n = effective_n_threads(n_threads)
    arr, out = _prepare(x, out)
    if arr.ndim == 0:
        raise ValueError(
            f"Argument `x` must have at least one dimension for an axis-wise "
            f"activation. Received: x.shape={arr.shape}"
        )
    ax = _check_axis(axis, arr.ndim)
    outer, n_axis, inner = _split_shape(arr.shape, ax)
    _k.softmax(bool(log), arr.reshape(-1), out.reshape(-1), outer, n_axis, inner, n)
    return out


def softmax(x, axis=-1, *, out=None, n_threads=None):
    """Softmax along `axis`: ``exp(x - max) / sum(exp(x - max))``.

    The reduced axis is handled in place (no transpose): rows when it is the
    last axis, blocks of contiguous columns otherwise. The sum is accumulated
    in double. Slices holding +inf give ``1/k`` on their k infinite entries.

    Parameters
    ----------
    x : array_like
        Input of rank >= 1.
    axis : int, default -1
        The axis to normalise over.
    {extras}

    Returns
    -------
    ndarray
        Same shape as `x`; each slice along `axis` sums to 1.

    Examples
    --------
    >>> from densekit import activations
    >>> p = activations.softmax([[1.0, 2.0, 3.0]])
    >>> p.round(4).tolist()
    [[0.09, 0.2447, 0.6652]]
    """
    return _softmax(False, x, axis, out, n_threads)


def log_softmax(x, axis=-1, *, out=None, n_threads=None):
    """Log-softmax along `axis`: ``x - max - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : array_like
        Input of rank >= 1.
    axis : int, default -1
        The axis to normalise over.
    {extras}

    Returns
    -------
    ndarray
        Same shape as `x`.
    """
    return _softmax(True, x, axis, out, n_threads)


softmax.__doc__ = softmax.__doc__.format(extras=_DOC_EXTRAS)
log_softmax.__doc__ = log_softmax.__doc__.format(extras=_DOC_EXTRAS)


def glu(x, axis=-1, *, out=None, n_threads=None):
    """Gated linear unit: split `x` in halves ``a, b`` along `axis`, return ``a * sigmoid(b)``.

    Parameters
    ----------
    x : array_like
        Input of rank >= 1 whose size along `axis` is even.
    axis : int, default -1
        The axis to split.
    {extras}

    Returns
    -------
    ndarray
        `x`'s shape with the `axis` dimension halved.

    Raises
    ------
    ValueError
        If the size along `axis` is odd.
    """
    n = effective_n_threads(n_threads)
    arr = as_float_array(x)
    if arr.ndim == 0:
        raise ValueError(
            f"Argument `x` must have at least one dimension for glu. "
            f"Received: x.shape={arr.shape}"
        )
    ax = _check_axis(axis, arr.ndim)
    if arr.shape[ax] % 2 != 0:
        raise ValueError(
            "axis size must be divisible by 2. "
            f"Received: x.shape={arr.shape} with axis={axis}"
        )
    shape = arr.shape[:ax] + (arr.shape[ax] // 2,) + arr.shape[ax + 1:]
    arr, out = _prepare(arr, out, shape)
    outer, n_axis, inner = _split_shape(arr.shape, ax)
    _k.glu(arr.reshape(-1), out.reshape(-1), outer, n_axis // 2, inner, n)
    return out


glu.__doc__ = glu.__doc__.format(extras=_DOC_EXTRAS)


def sparsemax(x, axis=-1, *, out=None, n_threads=None):
    """Sparsemax along `axis`: the Euclidean projection onto the probability simplex.

    ``max(x - tau, 0)`` with `tau` chosen so that each slice sums to 1
    (Martins & Astudillo, 2016). Computed in double with numpy (sort-based);
    slices are shifted by their maximum first, so large inputs cannot
    overflow. Slices holding +inf give ``1/k`` on their k infinite entries.
    `n_threads` is accepted for a uniform signature and checked, but this
    function runs on one thread.

    Parameters
    ----------
    x : array_like
        Input of rank >= 1.
    axis : int, default -1
        The axis to project along.
    {extras}

    Returns
    -------
    ndarray
        Same shape as `x`; each slice is sparse, non-negative and sums to 1.
    """
    effective_n_threads(n_threads)
    arr, out = _prepare(x, out)
    if arr.ndim == 0:
        raise ValueError(
            f"Argument `x` must have at least one dimension for sparsemax. "
            f"Received: x.shape={arr.shape}"
        )
    ax = _check_axis(axis, arr.ndim)
    if arr.size == 0:
        return out
    z = np.moveaxis(arr, ax, -1).astype(np.float64)
    n = z.shape[-1]
    with np.errstate(over="ignore", invalid="ignore"):
        m = z.max(axis=-1, keepdims=True)
        # Every value <= max - 1 is outside the support (tau >= max - 1), so
        # clamping the shifted values at -2 changes nothing but keeps the
        # cumulative sums finite.
        shifted = np.maximum(z - m, -2.0)
    shifted = np.where(np.isfinite(m), shifted, 0.0)
    srt = -np.sort(-shifted, axis=-1)
    cum = np.cumsum(srt, axis=-1)
    r = np.arange(1, n + 1, dtype=np.float64)
    support = srt - (cum - 1.0) / r > 0
    k = support.sum(axis=-1, keepdims=True)
    cum_k = np.take_along_axis(cum, k - 1, axis=-1)
    tau = (cum_k - 1.0) / k
    res = np.maximum(shifted - tau, 0.0)
    # Slices with +inf: uniform over the infinite entries; NaN or all -inf: NaN.
    pos_inf = np.isposinf(z)
    n_inf = pos_inf.sum(axis=-1, keepdims=True)
    res = np.where(n_inf > 0, pos_inf / np.maximum(n_inf, 1), res)
    bad = np.isnan(z).any(axis=-1, keepdims=True) | np.isneginf(m)
    res = np.where(bad, np.nan, res)
    out[...] = np.moveaxis(res, -1, ax)
    return out


sparsemax.__doc__ = sparsemax.__doc__.format(extras=_DOC_EXTRAS)


# --------------------------------------------------- the Dense layer's hook

_FUSED = {
    linear: lambda: (ACT_LINEAR, 0.0, 0.0, 0.0),
    relu: _relu_params,
    relu6: lambda: (ACT_RELU6, 0.0, 0.0, 0.0),
    leaky_relu: lambda negative_slope=0.2: (
        ACT_LEAKY_RELU, check_number(negative_slope, "negative_slope"), 0.0, 0.0
    ),
    elu: lambda alpha=1.0: (ACT_ELU, check_number(alpha, "alpha"), 0.0, 0.0),
    selu: lambda: (ACT_SELU, 0.0, 0.0, 0.0),
    celu: lambda alpha=1.0: (ACT_CELU, _celu_alpha(alpha), 0.0, 0.0),
    gelu: lambda approximate=False: (
        ACT_GELU_TANH if _check_bool(approximate, "approximate") else ACT_GELU,
        0.0, 0.0, 0.0,
    ),
    silu: lambda: (ACT_SILU, 0.0, 0.0, 0.0),
    sigmoid: lambda: (ACT_SIGMOID, 0.0, 0.0, 0.0),
    tanh: lambda: (ACT_TANH, 0.0, 0.0, 0.0),
    softplus: lambda: (ACT_SOFTPLUS, 0.0, 0.0, 0.0),
    softsign: lambda: (ACT_SOFTSIGN, 0.0, 0.0, 0.0),
    hard_sigmoid: lambda: (ACT_HARD_SIGMOID, 0.0, 0.0, 0.0),
    hard_silu: lambda: (ACT_HARD_SILU, 0.0, 0.0, 0.0),
    exponential: lambda: (ACT_EXPONENTIAL, 0.0, 0.0, 0.0),
    mish: lambda: (ACT_MISH, 0.0, 0.0, 0.0),
    log_sigmoid: lambda: (ACT_LOG_SIGMOID, 0.0, 0.0, 0.0),
    hard_tanh: lambda: (ACT_HARD_TANH, 0.0, 0.0, 0.0),
    tanh_shrink: lambda: (ACT_TANH_SHRINK, 0.0, 0.0, 0.0),
    hard_shrink: lambda threshold=0.5: (
        ACT_HARD_SHRINK, check_number(threshold, "threshold"), 0.0, 0.0
    ),
    soft_shrink: lambda threshold=0.5: (
        ACT_SOFT_SHRINK, check_number(threshold, "threshold"), 0.0, 0.0
    ),
    sparse_plus: lambda: (ACT_SPARSE_PLUS, 0.0, 0.0, 0.0),
    sparse_sigmoid: lambda: (ACT_SPARSE_SIGMOID, 0.0, 0.0, 0.0),
    squareplus: lambda b=4: (ACT_SQUAREPLUS, check_number(b, "b", minimum=0), 0.0, 0.0),
    threshold: lambda threshold, default_value: (
        ACT_THRESHOLD,
        check_number(threshold, "threshold"),
        check_number(default_value, "default_value"),
        0.0,
    ),
    softmax: lambda axis=-1: (ACT_SOFTMAX, 0.0, 0.0, 0.0) if _is_last(axis) else None,
    log_softmax: lambda axis=-1: (
        (ACT_LOG_SOFTMAX, 0.0, 0.0, 0.0) if _is_last(axis) else None
    ),
}


def _is_last(axis):
    return not isinstance(axis, bool) and isinstance(axis, int) and axis == -1


def fused_code(activation):
    """Map an activation to the fused kernel code the Dense layer can run.

    Parameters
    ----------
    activation : callable
        One of this module's functions, or a ``functools.partial`` of one
        with keyword arguments only (``partial(relu, max_value=6.0)``).

    Returns
    -------
    tuple of (int, float, float, float) or None
        ``(code, p0, p1, p2)`` for ``activate_row`` / ``bias_activate_row`` in
        ``densekit/_lib/_activation_ops.pxd`` (parameter meanings per code are
        documented there; relu's ``max_value=None`` is NaN), or None when the
        activation has no fused kernel (custom callables, `glu`,
        `sparsemax`, softmax/log_softmax over an axis other than -1, partials
        with positional arguments or with ``out``/``n_threads``). The codes
        ACT_SOFTMAX and ACT_LOG_SOFTMAX are row-wise: the row must be the
        whole last axis.

    Raises
    ------
    ValueError, TypeError
        If a partial carries an invalid parameter value or an unknown keyword.
    """
    kwargs = {}
    fn = activation
    if isinstance(activation, functools.partial):
        if activation.args:
            return None
        fn = activation.func
        kwargs = dict(activation.keywords)
        if "out" in kwargs or "n_threads" in kwargs:
            return None
    try:
        build = _FUSED.get(fn)
    except TypeError:  # unhashable callable
        return None
    if build is None:
        return None
    return build(**kwargs)
