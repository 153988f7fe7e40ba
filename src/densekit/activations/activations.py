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

How an activation is declared (for contributors)
------------------------------------------------
Each activation is written once, as a decorated ``def`` whose signature,
annotations and docstring are its whole description::

    @_activation(ACT_ELU, grad="y")
    def elu(x, alpha: Real = 1.0, *, out=None, n_threads=None):
        \"\"\"Exponential linear unit ...\"\"\"

- the signature gives Keras' parameter names and defaults (``x`` first, then
  the parameters, then the keyword-only ``out`` and ``n_threads``);
- each parameter's annotation is its check (:data:`Real`, :data:`OptionalReal`,
  :data:`NonZeroReal`, :data:`NonNegativeReal`, :data:`Bool`, :data:`Axis`),
  which also converts the value for the kernel;
- the decorator argument is the kernel code: an ``ACT_*`` value; or a dict
  from the value of the parameter named by ``select=`` to the code (gelu:
  ``{False: ACT_GELU, True: ACT_GELU_TANH}, select="approximate"``); or None
  for activations without a fused kernel, whose ``def`` body is then the
  implementation (glu, sparsemax). ``rowwise=True`` marks the codes that
  normalise a whole row (softmax, log_softmax): their only parameter is `axis`.
- ``grad=`` is the derivative, next to the forward: the kernel of the same
  code computes ``dy * act'`` (``activation_grad`` in
  ``densekit/_lib/_activations.pyx``), and the entry says which forward tensor
  it reads at Keras' defaults, the output ``"y"`` (relu, sigmoid, tanh, elu,
  softmax, ...) or the input ``"x"`` (gelu, silu, mish, ...). The kernel's own
  table (``dk_act_grad_needs_input``) is checked against it at import, and
  also covers the parameters that change the answer (relu with a threshold, a
  cap or a negative slope, leaky_relu and elu with a negative slope or alpha).

The decorator builds the public function (with exactly the declared signature
and docstring, checking the parameters and calling the kernel, with no hop in
between), the encoder behind :func:`fused_code` (the same checks), the
backward function ``grad(x, y, dy, <params>)`` (the same checks), and one row
of ``_ACTIVATIONS`` (name -> :class:`_Activation`), from which
``densekit.activations.ALL_OBJECTS`` is taken. The parameters other than the
`select` one fill the kernel slots p0, p1, p2 in signature order
(see ``densekit/_lib/_activation_ops.pxd``).
"""

import dataclasses
import functools
import inspect
import math
import operator

import numpy as np

from densekit._lib import _activations as _k
from densekit._lib._activations import (
    ACT_CELU,
    ACT_ELU,
    ACT_EXPONENTIAL,
    ACT_GELU,
    ACT_GELU_TANH,
    ACT_HARD_SHRINK,
    ACT_HARD_SIGMOID,
    ACT_HARD_SILU,
    ACT_HARD_TANH,
    ACT_LEAKY_RELU,
    ACT_LINEAR,
    ACT_LOG_SIGMOID,
    ACT_LOG_SOFTMAX,
    ACT_MISH,
    ACT_RELU,
    ACT_RELU6,
    ACT_SELU,
    ACT_SIGMOID,
    ACT_SILU,
    ACT_SOFT_SHRINK,
    ACT_SOFTMAX,
    ACT_SOFTPLUS,
    ACT_SOFTSIGN,
    ACT_SPARSE_PLUS,
    ACT_SPARSE_SIGMOID,
    ACT_SQUAREPLUS,
    ACT_TANH,
    ACT_TANH_SHRINK,
    ACT_THRESHOLD,
)
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


def _run_elementwise(params, x, out, n_threads):
    """Apply the elementwise kernel ``params = (code, p0, p1, p2)`` to `x`."""
    n = effective_n_threads(n_threads)
    arr, out = _prepare(x, out)
    code, p0, p1, p2 = params
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


def _check_axes(axis, ndim):
    """Return the sorted, non-negative axes of an int or a tuple of ints."""
    if not isinstance(axis, tuple):
        return (_check_axis(axis, ndim),)
    axes = []
    for a in axis:
        if isinstance(a, bool):
            raise TypeError(
                f"Argument `axis` must be an integer or a tuple of integers. "
                f"Received: axis={axis!r}"
            )
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(
                f"Argument `axis` must be an integer or a tuple of integers. "
                f"Received: axis={axis!r}"
            ) from None
        if not -ndim <= a < ndim:
            raise ValueError(
                f"Argument `axis` is out of range for an input of rank {ndim}. "
                f"Received: axis={axis}"
            )
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(
            f"Argument `axis` must not repeat an axis. Received: axis={axis}"
        )
    return tuple(sorted(axes))


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


def _run_rowwise(code, x, axis, out, n_threads):
    """Softmax (``ACT_SOFTMAX``) or log-softmax (``ACT_LOG_SOFTMAX``) over `axis`."""
    n = effective_n_threads(n_threads)
    arr, out = _prepare(x, out)
    log = code == ACT_LOG_SOFTMAX
    if arr.ndim == 0:
        raise ValueError(
            f"Argument `x` must have at least one dimension for an axis-wise "
            f"activation. Received: x.shape={arr.shape}"
        )
    if not isinstance(axis, tuple):
        ax = _check_axis(axis, arr.ndim)
        outer, n_axis, inner = _split_shape(arr.shape, ax)
        _k.softmax(log, arr.reshape(-1), out.reshape(-1), outer, n_axis, inner, n)
        return out
    axes = _check_axes(axis, arr.ndim)
    if not axes:
        # Normalising over no axis: every element is its own slice.
        _k.softmax(log, arr.reshape(-1), out.reshape(-1), arr.size, 1, 1, n)
        return out
    first, last = axes[0], axes[-1]
    if last - first + 1 == len(axes):
        # Adjacent axes are one axis of the C-ordered data: no copy.
        outer = math.prod(arr.shape[:first])
        inner = math.prod(arr.shape[last + 1:])
        _k.softmax(log, arr.reshape(-1), out.reshape(-1), outer,
                   math.prod(arr.shape[first:last + 1]), inner, n)
        return out
    # Otherwise gather the axes as one trailing axis, run the row kernel, put back.
    dest = tuple(range(arr.ndim - len(axes), arr.ndim))
    moved = np.ascontiguousarray(np.moveaxis(arr, axes, dest))
    res = np.empty_like(moved)
    outer = math.prod(moved.shape[:-len(axes)])
    n_axis = math.prod(moved.shape[-len(axes):])
    _k.softmax(log, moved.reshape(-1), res.reshape(-1), outer, n_axis, 1, n)
    np.moveaxis(out, axes, dest)[...] = res
    return out


# ------------------------------------------------- the declaration machinery

class _Check:
    """A parameter's check: validates a value and converts it for the kernel.

    Used as the parameter's annotation in a declaration, and shown by name in
    signatures (``alpha: Real = 1.0``).
    """

    __slots__ = ("_name", "_convert")

    def __init__(self, name, convert):
        self._name = name
        self._convert = convert

    def __call__(self, value, name):
        return self._convert(value, name)

    def __repr__(self):
        return self._name


#: A finite real number (a float for the kernel).
Real = _Check("Real", check_number)
#: A finite real number or None (None is NaN for the kernel: relu's `max_value`).
OptionalReal = _Check(
    "OptionalReal", lambda v, name: math.nan if v is None else check_number(v, name)
)
#: A non-negative finite real number.
NonNegativeReal = _Check("NonNegativeReal", lambda v, name: check_number(v, name, minimum=0))


def _nonzero(value, name):
    value = check_number(value, name)
    if value == 0.0:
        raise ValueError(f"Argument `{name}` must be non-zero. Received: {name}={value!r}")
    return value


#: A non-zero finite real number (celu's `alpha`).
NonZeroReal = _Check("NonZeroReal", _nonzero)
#: A bool (gelu's `approximate`, which selects the code).
Bool = _Check("Bool", _check_bool)
#: An axis; checked against the input's rank when the function runs.
Axis = _Check("Axis", lambda v, name: v)


@dataclasses.dataclass(frozen=True)
class _Param:
    """One declared parameter: its Keras name, default (``inspect.Parameter.empty``
    when required) and check."""

    name: str
    default: object
    check: _Check


@dataclasses.dataclass(frozen=True)
class _Activation:
    """One row of ``_ACTIVATIONS``: everything densekit knows about an activation.

    Attributes
    ----------
    name : str
        The Keras name (also the public function's ``__name__``).
    code : int, dict or None
        The ``ACT_*`` kernel code; or a dict from the `select` parameter's
        value to the code; or None when there is no fused kernel.
    select : str or None
        The parameter that picks the code from the `code` dict.
    params : tuple of _Param
        The parameters between `x` and the keyword-only `out`, `n_threads`.
    rowwise : bool
        True for the codes that normalise a whole row (fused only when
        ``axis == -1``).
    function : callable
        The public function.
    encode : callable or None
        ``encode(**params) -> (code, p0, p1, p2)`` or None: what
        :func:`fused_code` returns. It validates exactly as the public function.
    grad_reads : {"y", "x"} or None
        The declared ``grad=``: which forward tensor the derivative kernel reads
        at Keras' default parameters, the output ``"y"`` or the input ``"x"``
        (``densekit._lib._activations.grad_needs_input`` has the exact answer
        for other parameters); None without a kernel.
    grad : callable or None
        ``grad(x, y, dy, <params>, *, out=None, n_threads=None) -> dz``, the
        backward pass ``dz = dy * act'(x)`` (the row-wise vector-Jacobian product
        for softmax/log_softmax), with the public function's checks. It reads
        only the tensor the kernel needs (the other may be None). None without
        a kernel.
    """

    name: str
    code: object
    select: object
    params: tuple
    rowwise: bool
    function: object
    encode: object
    grad_reads: object = None
    grad: object = None


_KW = inspect.Parameter.KEYWORD_ONLY

# name -> _Activation, in declaration order.
_ACTIVATIONS = {}
_BY_FUNCTION = {}


def _signature_source(params, names):
    """The parameter list ``a=_d_a, b`` of `params`, defaults taken from `names`."""
    parts = []
    for p in params:
        if p.default is inspect.Parameter.empty:
            parts.append(p.name)
        else:
            names[f"_d_{p.name}"] = p.default
            parts.append(f"{p.name}=_d_{p.name}")
    return parts


def _compile(source, name, namespace, decl):
    """exec `source` (defining `name`), with line numbers pointing at `decl`."""
    # Padding puts line 1 of `source` on the declaration's first line, so
    # tracebacks and inspect.getsource() show the declaration.
    padding = "\n" * (decl.__code__.co_firstlineno - 1)
    exec(compile(padding + source, decl.__code__.co_filename, "exec"), namespace)
    return namespace[name]


def _activation(code, *, grad=None, select=None, rowwise=False):
    """Declare an activation (see the module docstring); return its public function."""

    def declare(decl):
        name = decl.__name__
        sig = inspect.signature(decl)
        ps = list(sig.parameters.values())
        if (
            len(ps) < 3
            or ps[0].name != "x"
            or [(p.name, p.kind, p.default) for p in ps[-2:]]
            != [("out", _KW, None), ("n_threads", _KW, None)]
        ):
            raise TypeError(f"{name}: the signature must be (x, ..., *, out=None, n_threads=None)")
        middle = ps[1:-2]
        if code is None:  # implemented by the declaration's body, no fused kernel
            if grad is not None:
                raise TypeError(f"{name}: `grad` needs a kernel code")
            entry = _Activation(name, None, None, (), False, decl, None)
            _ACTIVATIONS[name] = entry
            _BY_FUNCTION[decl] = entry
            return decl
        params = []
        for p in middle:
            if p.kind is not p.POSITIONAL_OR_KEYWORD or not isinstance(p.annotation, _Check):
                raise TypeError(f"{name}: parameter {p.name!r} needs a check annotation")
            params.append(_Param(p.name, p.default, p.annotation))
        params = tuple(params)
        _check_grad_reads(name, code, grad)
        ns = {"__name__": decl.__module__, "_code": code}
        for p in params:
            ns[f"_c_{p.name}"] = p.check._convert  # no __call__ hop per call
        sig_src = ", ".join(_signature_source(params, ns))
        call_src = ", ".join(p.name for p in params)
        if rowwise:
            if [p.name for p in params] != ["axis"]:
                raise TypeError(f"{name}: a row-wise activation takes only `axis`")
            ns["_run"] = _run_rowwise
            ns["_is_last"] = _is_last
            encode_src = (
                f"def _encode_{name}({sig_src}):\n"
                "    return (_code, 0.0, 0.0, 0.0) if _is_last(axis) else None\n"
            )
            public_src = (
                f"def {name}(x, {sig_src}, *, out=None, n_threads=None):\n"
                "    return _run(_code, x, axis, out, n_threads)\n"
            )
            ns["_run_grad"] = _run_grad_rowwise
            grad_src = (
                f"def _grad_{name}(x, y, dy, {sig_src}, *, out=None, n_threads=None):\n"
                "    return _run_grad(_code, y, dy, axis, out, n_threads)\n"
            )
        else:
            if (select is None) != isinstance(code, int):
                raise TypeError(f"{name}: `select` names the parameter a code dict is keyed by")
            slots = [p for p in params if p.name != select]
            if len(slots) > 3:
                raise TypeError(f"{name}: the kernel takes at most 3 parameters")
            checked = {p.name: f"_c_{p.name}({p.name}, {p.name!r})" for p in params}
            code_src = "_code" if select is None else f"_code[{checked[select]}]"
            values = [checked[p.name] for p in slots] + ["0.0"] * (3 - len(slots))
            # The checked kernel arguments, written once for both functions.
            args_src = f"({code_src}, {', '.join(values)})"
            encode_src = f"def _encode_{name}({sig_src}):\n    return {args_src}\n"
            ns["_run"] = _run_elementwise
            ns["_run_grad"] = _run_grad_elementwise
            if params:
                public_src = (
                    f"def {name}(x, {sig_src}, *, out=None, n_threads=None):\n"
                    f"    return _run({args_src}, x, out, n_threads)\n"
                )
                grad_src = (
                    f"def _grad_{name}(x, y, dy, {sig_src}, *, out=None, n_threads=None):\n"
                    f"    return _run_grad({args_src}, x, y, dy, out, n_threads)\n"
                )
            else:  # nothing to check: the kernel arguments are one constant
                ns["_params"] = (code, 0.0, 0.0, 0.0)
                public_src = (
                    f"def {name}(x, *, out=None, n_threads=None):\n"
                    "    return _run(_params, x, out, n_threads)\n"
                )
                grad_src = (
                    f"def _grad_{name}(x, y, dy, *, out=None, n_threads=None):\n"
                    "    return _run_grad(_params, x, y, dy, out, n_threads)\n"
                )
        encode = _compile(encode_src, f"_encode_{name}", ns, decl)
        fn = _compile(public_src, name, ns, decl)
        # The declaration's own docstring and annotations (None under -OO).
        fn.__doc__ = decl.__doc__
        fn.__annotations__ = dict(decl.__annotations__)
        fn.__qualname__ = decl.__qualname__
        grad_fn = None if grad is None else _compile(grad_src, f"_grad_{name}", ns, decl)
        entry = _Activation(name, code, select, params, rowwise, fn, encode, grad, grad_fn)
        _ACTIVATIONS[name] = entry
        _BY_FUNCTION[fn] = entry
        return fn

    return declare


def _check_grad_reads(name, code, grad):
    """The declared ``grad=`` must be what the kernel reads at Keras' defaults
    (the kernel's own table, dk_act_grad_needs_input, decides which tensor it
    reads; this keeps the declaration truthful). None declares no derivative."""
    if grad is None:
        return
    if grad not in ("y", "x"):
        raise TypeError(f"{name}: `grad` must be 'y' (the output) or 'x' (the input)")
    for c in code.values() if isinstance(code, dict) else [code]:
        if (grad == "x") != (c in _k.GRAD_NEEDS_INPUT):
            raise TypeError(f"{name}: the derivative kernel does not read {grad!r}")


def _grad_arrays(src, dy, name_src):
    """(src, dy) as C-contiguous float arrays of one dtype and shape."""
    if src is None:
        what = "input" if name_src == "x" else "output"
        raise ValueError(
            f"Argument `{name_src}` is required: this derivative reads the forward "
            f"{what}. Received: {name_src}=None"
        )
    s = as_float_array(src, name_src)
    g = as_float_array(dy, "dy")
    if g.dtype != s.dtype:
        raise TypeError(
            f"Argument `dy` must have the dtype of `{name_src}` ({s.dtype}). "
            f"Received: dy.dtype={g.dtype}"
        )
    if g.shape != s.shape:
        raise ValueError(
            f"Argument `dy` must have the shape of `{name_src}` {s.shape}. "
            f"Received: dy.shape={g.shape}"
        )
    return s, g


def _grad_out(out, s):
    if out is None:
        return np.empty(s.shape, dtype=s.dtype)
    check_out(out, s.shape, s.dtype)
    return out


def _run_grad_elementwise(params, x, y, dy, out, n_threads):
    """dz = dy * act'(.) for the elementwise kernel ``params = (code, p0, p1, p2)``."""
    n = effective_n_threads(n_threads)
    code, p0, p1, p2 = params
    reads = "x" if _k.grad_needs_input(code, p0, p1, p2) else "y"
    s, g = _grad_arrays(x if reads == "x" else y, dy, reads)
    out = _grad_out(out, s)
    _k.activation_grad(code, s.reshape(-1), g.reshape(-1), out.reshape(-1), 1,
                       p0, p1, p2, n)
    return out


def _run_grad_rowwise(code, y, dy, axis, out, n_threads):
    """The vector-Jacobian product of softmax / log_softmax over one `axis`, from y."""
    n = effective_n_threads(n_threads)
    s, g = _grad_arrays(y, dy, "y")
    if s.ndim == 0:
        raise ValueError(
            f"Argument `y` must have at least one dimension for an axis-wise "
            f"activation. Received: y.shape={s.shape}"
        )
    if isinstance(axis, tuple):
        raise ValueError(f"Argument `axis` must be one integer here. Received: axis={axis}")
    ax = _check_axis(axis, s.ndim)
    out = _grad_out(out, s)
    if ax == s.ndim - 1:
        _k.activation_grad(code, s.reshape(-1), g.reshape(-1), out.reshape(-1),
                           s.shape[-1], 0.0, 0.0, 0.0, n)
        return out
    sm = np.ascontiguousarray(np.moveaxis(s, ax, -1))
    gm = np.array(np.moveaxis(g, ax, -1), order="C")
    _k.activation_grad(code, sm.reshape(-1), gm.reshape(-1), gm.reshape(-1),
                       sm.shape[-1], 0.0, 0.0, 0.0, n)
    out[...] = np.moveaxis(gm, -1, ax)
    return out


def _is_last(axis):
    return not isinstance(axis, bool) and isinstance(axis, int) and axis == -1


# ------------------------------------------------------------ the table

@_activation(ACT_RELU, grad="y")
def relu(
    x,
    negative_slope: Real = 0.0,
    max_value: OptionalReal = None,
    threshold: Real = 0.0,
    *,
    out=None,
    n_threads=None,
):
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
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

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


@_activation(ACT_RELU6, grad="y")
def relu6(x, *, out=None, n_threads=None):
    """ReLU capped at 6: ``min(max(x, 0), 6)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_LEAKY_RELU, grad="y")
def leaky_relu(x, negative_slope: Real = 0.2, *, out=None, n_threads=None):
    """Leaky ReLU: ``max(x, negative_slope * x)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    negative_slope : float, default 0.2
        Slope for negative inputs.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_ELU, grad="y")
def elu(x, alpha: Real = 1.0, *, out=None, n_threads=None):
    """Exponential linear unit: ``x if x >= 0 else alpha * expm1(x)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    alpha : float, default 1.0
        Scale of the negative part.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SELU, grad="y")
def selu(x, *, out=None, n_threads=None):
    """Scaled ELU: ``1.0507009873554805 * elu(x, 1.6732632423543772)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_CELU, grad="y")
def celu(x, alpha: NonZeroReal = 1.0, *, out=None, n_threads=None):
    """Continuously differentiable ELU: ``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    alpha : float, default 1.0
        Non-zero scale of the negative part.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation({False: ACT_GELU, True: ACT_GELU_TANH}, grad="x", select="approximate")
def gelu(x, approximate: Bool = False, *, out=None, n_threads=None):
    """Gaussian error linear unit: ``x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))``,
    or with ``approximate=True``
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``.

    Evaluated as ``0.5 * x * erfc(-x / sqrt(2))`` and ``x * sigmoid(2u)``,
    which equal the above without cancelling for negative x.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    approximate : bool, default False
        Use the tanh approximation.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SILU, grad="x")
def silu(x, *, out=None, n_threads=None):
    """SiLU, also called swish: ``x * sigmoid(x)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SIGMOID, grad="y")
def sigmoid(x, *, out=None, n_threads=None):
    """Logistic sigmoid: ``1 / (1 + exp(-x))``, computed without overflow.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_LOG_SIGMOID, grad="y")
def log_sigmoid(x, *, out=None, n_threads=None):
    """Log of the sigmoid: ``-softplus(-x)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_HARD_SIGMOID, grad="y")
def hard_sigmoid(x, *, out=None, n_threads=None):
    """Hard sigmoid: ``clip(x / 6 + 0.5, 0, 1)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_HARD_SILU, grad="x")
def hard_silu(x, *, out=None, n_threads=None):
    """Hard SiLU, also called hard swish: ``x * hard_sigmoid(x)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_TANH, grad="y")
def tanh(x, *, out=None, n_threads=None):
    """Hyperbolic tangent.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_HARD_TANH, grad="x")
def hard_tanh(x, *, out=None, n_threads=None):
    """Hard tanh: ``clip(x, -1, 1)``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_TANH_SHRINK, grad="x")
def tanh_shrink(x, *, out=None, n_threads=None):
    """Tanh shrink: ``x - tanh(x)`` (a series near 0 keeps it accurate there).

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_HARD_SHRINK, grad="y")
def hard_shrink(x, threshold: Real = 0.5, *, out=None, n_threads=None):
    """Hard shrink: ``x if |x| > threshold else 0``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    threshold : float, default 0.5
        Half-width of the zeroed band.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SOFT_SHRINK, grad="y")
def soft_shrink(x, threshold: Real = 0.5, *, out=None, n_threads=None):
    """Soft shrink: ``x - threshold`` above `threshold`, ``x + threshold`` below
    ``-threshold``, else 0.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    threshold : float, default 0.5
        Half-width of the zeroed band.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SOFTPLUS, grad="y")
def softplus(x, *, out=None, n_threads=None):
    """Softplus: ``log(1 + exp(x))``, computed without overflow.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SOFTSIGN, grad="x")
def softsign(x, *, out=None, n_threads=None):
    """Softsign: ``x / (1 + |x|)`` (+-1 at +-inf).

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SPARSE_PLUS, grad="y")
def sparse_plus(x, *, out=None, n_threads=None):
    """Sparse plus: 0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, x above.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SPARSE_SIGMOID, grad="y")
def sparse_sigmoid(x, *, out=None, n_threads=None):
    """Sparse sigmoid: 0 for ``x <= -1``, ``(x + 1) / 2`` for ``-1 < x < 1``, 1 above.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_SQUAREPLUS, grad="y")
def squareplus(x, b: NonNegativeReal = 4, *, out=None, n_threads=None):
    """Squareplus: ``(x + sqrt(x^2 + b)) / 2`` (computed without cancellation for x < 0).

    Parameters
    ----------
    x : array_like
        Input of any shape.
    b : float, default 4
        Non-negative smoothness parameter.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_MISH, grad="x")
def mish(x, *, out=None, n_threads=None):
    """Mish: ``x * tanh(softplus(x))``.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_EXPONENTIAL, grad="y")
def exponential(x, *, out=None, n_threads=None):
    """Exponential: ``exp(x)`` (overflows to inf as the true value does).

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_LINEAR, grad="y")
def linear(x, *, out=None, n_threads=None):
    """Linear (identity) activation: returns a copy of `x`, or writes `out`.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


@_activation(ACT_THRESHOLD, grad="x")
def threshold(x, threshold: Real, default_value: Real, *, out=None, n_threads=None):
    """Threshold: ``x if x > threshold else default_value`` (NaN stays NaN).

    Parameters
    ----------
    x : array_like
        Input of any shape.
    threshold : float
        Values at or below it are replaced.
    default_value : float
        The replacement.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`, dtype float32 or float64.
    """


# Keras' aliases are the same function objects, so serialize() gives the canonical name.
swish = silu
hard_swish = hard_silu


# ---------------------------------------------------- reductions over an axis

@_activation(ACT_SOFTMAX, grad="y", rowwise=True)
def softmax(x, axis: Axis = -1, *, out=None, n_threads=None):
    """Softmax along `axis`: ``exp(x - max) / sum(exp(x - max))``.

    The reduced axis is handled in place (no transpose): rows when it is the
    last axis, blocks of contiguous columns otherwise. A tuple of axes is
    normalised as one axis (adjacent axes in place; others are gathered into
    a copy and scattered back). The sum is accumulated in double. Slices
    holding +inf give ``1/k`` on their k infinite entries.

    Parameters
    ----------
    x : array_like
        Input of rank >= 1.
    axis : int or tuple of int, default -1
        The axis, or the axes together, to normalise over.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`; each slice along `axis` sums to 1.

    Raises
    ------
    ValueError
        If an axis is out of range or repeated.

    Examples
    --------
    >>> from densekit import activations
    >>> p = activations.softmax([[1.0, 2.0, 3.0]])
    >>> p.round(4).tolist()
    [[0.09, 0.2447, 0.6652]]
    >>> activations.softmax([[0.0, 0.0], [0.0, 0.0]], axis=(0, 1)).tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """


@_activation(ACT_LOG_SOFTMAX, grad="y", rowwise=True)
def log_softmax(x, axis: Axis = -1, *, out=None, n_threads=None):
    """Log-softmax along `axis`: ``x - max - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : array_like
        Input of rank >= 1.
    axis : int or tuple of int, default -1
        The axis, or the axes together, to normalise over.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as `x`.

    Raises
    ------
    ValueError
        If an axis is out of range or repeated.
    """


@_activation(None)
def glu(x, axis=-1, *, out=None, n_threads=None):
    """Gated linear unit: split `x` in halves ``a, b`` along `axis`, return ``a * sigmoid(b)``.

    Parameters
    ----------
    x : array_like
        Input of rank >= 1 whose size along `axis` is even.
    axis : int, default -1
        The axis to split.
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

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


@_activation(None)
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
    out : ndarray, optional
        Where to write the result: C-contiguous, writable, of the result's
        shape and dtype (``out=x`` works in place). Checked fully before any
        write.
    n_threads : int, optional
        Number of OpenMP threads (None: :func:`densekit.get_num_threads`).

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


# --------------------------------------------------- the Dense layer's hook

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

    Examples
    --------
    >>> import functools
    >>> from densekit import activations
    >>> activations.fused_code(functools.partial(activations.elu, alpha=0.5))[1:]
    (0.5, 0.0, 0.0)
    >>> activations.fused_code(activations.glu) is None
    True
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
        entry = _BY_FUNCTION.get(fn)
    except TypeError:  # unhashable callable
        return None
    if entry is None or entry.encode is None:
        return None
    return entry.encode(**kwargs)
