"""The activation derivative of the backward pass (private).

:func:`activation_backward` is the one place where a layer turns the gradient
with respect to its activation's output into the gradient with respect to the
pre-activation. :func:`needs_input` says which of the two the layer must keep
from the forward pass.
"""

import functools
import math

import numpy as np

__all__ = ["activation_backward", "needs_input"]

# Activations whose derivative the fallback computes from the OUTPUT alone.
_FROM_OUTPUT = {"linear", "relu", "sigmoid", "tanh", "softmax"}


def _name_and_kwargs(activation):
    if isinstance(activation, functools.partial):
        return getattr(activation.func, "__name__", None), dict(activation.keywords)
    return getattr(activation, "__name__", None), {}


def needs_input(activation, fused):
    """True when the derivative of `activation` needs the pre-activation input."""
    name, kwargs = _name_and_kwargs(activation)
    if name == "linear":
        return False
    if name == "relu" and any(kwargs.get(k) not in (None, 0, 0.0)
                              for k in ("negative_slope", "max_value", "threshold")):
        return True
    if name == "softmax" and kwargs.get("axis", -1) != -1:
        return True
    return name not in _FROM_OUTPUT


def activation_backward(activation, fused, z, y, dy, out, n_threads):
    """out := dL/dz given dy = dL/dy for ``y = activation(z)`` (2-D, C-contiguous).

    `z` may be None when :func:`needs_input` is False. NumPy code (float math in
    the arrays' dtype), for every activation densekit declares and trains with.
    """
    name, kwargs = _name_and_kwargs(activation)
    t = dy.dtype.type
    if name == "linear":
        out[...] = dy
        return out
    if name == "relu" and z is None:
        np.multiply(dy, y > 0, out=out)
        return out
    if name == "sigmoid":
        np.multiply(dy, y * (t(1) - y), out=out)
        return out
    if name == "tanh":
        np.multiply(dy, t(1) - y * y, out=out)
        return out
    if name == "softmax" and z is None:
        s = np.sum(dy * y, axis=-1, keepdims=True)
        np.multiply(y, dy - s, out=out)
        return out
    if z is None:
        raise ValueError(f"The derivative of activation {name!r} needs its input.")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if name == "relu":
            slope = t(kwargs.get("negative_slope", 0.0))
            mx = kwargs.get("max_value")
            thr = t(kwargs.get("threshold", 0.0))
            d = np.where(z > thr, t(1), slope).astype(dy.dtype)
            if mx is not None:
                d = np.where(z >= t(mx), t(0), d)
        elif name == "elu":
            alpha = t(kwargs.get("alpha", 1.0))
            d = np.where(z > 0, t(1), alpha * np.exp(z))
        elif name == "selu":
            alpha, scale = t(1.6732632423543772), t(1.0507009873554805)
            d = scale * np.where(z > 0, t(1), alpha * np.exp(z))
        elif name == "softplus":
            d = t(1) / (t(1) + np.exp(-z))
        elif name in ("silu", "swish"):
            s = t(1) / (t(1) + np.exp(-z))
            d = s * (t(1) + z * (t(1) - s))
        elif name == "gelu":
            if kwargs.get("approximate", False):
                c = t(math.sqrt(2 / math.pi))
                u = c * (z + t(0.044715) * z ** 3)
                th = np.tanh(u)
                d = t(0.5) * (t(1) + th) + t(0.5) * z * (t(1) - th * th) * c * (
                    t(1) + t(3 * 0.044715) * z * z)
            else:
                from scipy.special import erf

                cdf = t(0.5) * (t(1) + erf(z / t(math.sqrt(2))))
                pdf = np.exp(-t(0.5) * z * z) / t(math.sqrt(2 * math.pi))
                d = cdf + z * pdf
        elif name == "softsign":
            d = t(1) / (t(1) + np.abs(z)) ** 2
        elif name == "leaky_relu":
            d = np.where(z > 0, t(1), t(kwargs.get("negative_slope", 0.2)))
        elif name == "exponential":
            d = np.exp(z)
        else:
            raise NotImplementedError(
                f"densekit cannot train through activation {name!r}: it has no derivative."
            )
        np.multiply(dy, d.astype(dy.dtype, copy=False), out=out)
    return out


def dense_backward(x, kernel, dz, dx, dkernel, dbias, need_dx, n_threads):
    """dkernel := x^T dz, dbias := column sums of dz, dx := dz kernel^T (if need_dx).

    `dkernel`/`dbias` may be None (a frozen layer, no bias). All 2-D arrays are
    C-contiguous in one dtype.
    """
    if dkernel is not None:
        np.matmul(x.T, dz, out=dkernel)
    if dbias is not None:
        np.sum(dz, axis=0, out=dbias)
    if need_dx:
        np.matmul(dz, kernel.T, out=dx)
